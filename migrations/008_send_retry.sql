-- No reply lost to a passing fault, and replies kept in order:
-- * a reply whose send Meta refused for now is kept (`send_retry`, parts `send_retry`) for a later
--   invocation to resend as it is, without asking Groq again (`resending` while it does);
-- * the parts of a split reply are numbered (`reply_part`), so history lists them in order;
-- * attempts are counted per invocation (Lambda keeps an asynchronous event's request id across its
--   retries), so a duplicate webhook's claims never use up another event's retries.
-- handler/model.py names the statuses (MessageStatus, ReplyStatus).

ALTER TABLE customer_conversations
    ADD COLUMN reply_part smallint,  -- 0..n-1 on bot rows, NULL on others
    ADD COLUMN attempts_by_request jsonb;  -- {aws_request_id: claims}, customer messages only

-- Earlier messages of the same customer another invocation is answering or sending right now.
CREATE OR REPLACE FUNCTION earlier_messages_pending(p_inbound uuid)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*)
    FROM customer_conversations AS me
    JOIN customer_conversations AS c
      ON c.user_id = me.user_id AND c.phone_number = me.phone_number AND c.sender = 'user'
    WHERE me.id = p_inbound
      AND c.id <> me.id
      AND c.status IN ('received', 'answering', 'sending', 'resending')
      AND c.lease_expires_at > now()
      AND (coalesce(c.meta_timestamp, c.created_at), c.created_at)
          < (coalesce(me.meta_timestamp, me.created_at), me.created_at)
$$;

-- Earlier messages of the same customer that no invocation holds now but that are not finished
-- (given back to wait for Lambda's retry, or left by a crashed holder) and moved lately (within
-- `p_window` seconds: Lambda's retry window): a later message waits for their retry too, so the
-- customer's replies keep their order. Older ones block nothing (their event is gone).
CREATE FUNCTION earlier_messages_waiting(p_inbound uuid, p_window double precision)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*)
    FROM customer_conversations AS me
    JOIN customer_conversations AS c
      ON c.user_id = me.user_id AND c.phone_number = me.phone_number AND c.sender = 'user'
    WHERE me.id = p_inbound
      AND c.id <> me.id
      AND c.status IN ('received', 'answering', 'sending', 'send_retry', 'resending')
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at <= now())
      AND c.updated_at > now() - make_interval(secs => p_window)
      AND (coalesce(c.meta_timestamp, c.created_at), c.created_at)
          < (coalesce(me.meta_timestamp, me.created_at), me.created_at)
$$;

-- For an invocation waiting its turn: how many earlier messages are being answered now, how many
-- wait for a retry, and the history as it is now.
CREATE FUNCTION claim_progress(p_inbound uuid, p_limit integer, p_window double precision)
RETURNS TABLE (earlier_pending bigint, earlier_waiting bigint, history json)
LANGUAGE sql STABLE
AS $$
    SELECT earlier_messages_pending(me.id), earlier_messages_waiting(me.id, p_window),
           conversation_history(me.user_id, me.phone_number, me.wa_message_id, me.meta_timestamp, p_limit)
    FROM customer_conversations AS me
    WHERE me.id = p_inbound
$$;

-- As 003's, read as turns: each reply right after the message it answers (a payload's messages
-- are recorded before any is answered), the parts of a reply in their order.
CREATE OR REPLACE FUNCTION conversation_history(
    p_user uuid, p_customer text, p_exclude_wa_message_id text, p_before timestamptz, p_limit integer
)
RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_object('sender', h.sender, 'content', h.content)
                             ORDER BY h.turn_at, h.is_reply, h.part, h.created_at), '[]')
    FROM (
        SELECT c.sender, c.content, c.created_at, coalesce(asked.created_at, c.created_at) AS turn_at,
               c.reply_to IS NOT NULL AS is_reply, coalesce(c.reply_part, -1) AS part
        FROM customer_conversations AS c
        LEFT JOIN customer_conversations AS asked ON asked.id = c.reply_to
        WHERE c.user_id = p_user AND c.phone_number = p_customer
          AND c.content IS NOT NULL AND c.sender IN ('user', 'bot')
          AND c.wa_message_id IS DISTINCT FROM p_exclude_wa_message_id
          AND (c.sender = 'bot' OR p_before IS NULL OR c.meta_timestamp IS NULL OR c.meta_timestamp <= p_before)
        ORDER BY turn_at DESC, is_reply DESC, part DESC, c.created_at DESC
        LIMIT p_limit
    ) AS h
$$;

-- As 007's (which no released handler calls), plus:
-- * the resend: a message in `send_retry` is claimed as `resending` (its recorded reply is sent
--   again, Groq is not asked); a lease that ran out during a send or a resend means the send may
--   have reached the customer (`outcome_unknown`, never resent);
-- * `attempts` returned is this invocation's (`p_request_id`: Lambda's aws_request_id, NULL when
--   there is none: then every claim counts).
-- * `earlier_waiting`: earlier messages of the customer waiting for a retry (see above).
DROP FUNCTION claim_customer_message(text, text, text, text, text, text, timestamptz, double precision);
CREATE FUNCTION claim_customer_message(
    p_phone_number_id text,
    p_customer_wa_id text,
    p_customer_user_id text,
    p_content text,
    p_wa_message_id text,
    p_message_type text,
    p_meta_timestamp timestamptz,
    p_lease_seconds double precision,
    p_request_id text,
    p_order_window double precision
)
RETURNS TABLE (
    tenant json,
    customer_key text,
    inbound_id uuid,
    claim_status text,
    attempts integer,
    existing_status text,
    existing_leased boolean,
    earlier_pending bigint,
    earlier_waiting bigint,
    history json
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_tenant tenant_settings;
    v_key text;
    v_id uuid;
    v_status text;
    v_attempts integer;
    v_existing_status text;
    v_existing_leased boolean;
    v_earlier bigint := 0;
    v_waiting bigint := 0;
BEGIN
    SELECT t.* INTO v_tenant FROM tenant_settings AS t WHERE t.phone_number_id = p_phone_number_id;
    IF v_tenant.user_id IS NULL THEN
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(
        hashtextextended(v_tenant.user_id::text || '/' || coalesce(p_customer_user_id, p_customer_wa_id), 0)
    );

    IF p_customer_user_id IS NOT NULL THEN
        SELECT c.phone_number INTO v_key
        FROM customer_conversations AS c
        WHERE c.user_id = v_tenant.user_id AND c.customer_user_id = p_customer_user_id
          AND c.sender = 'user' AND c.phone_number IS NOT NULL
        ORDER BY c.created_at DESC
        LIMIT 1;
    END IF;
    v_key := coalesce(v_key, p_customer_wa_id, p_customer_user_id);

    INSERT INTO customer_conversations AS c
        (user_id, phone_number, customer_wa_id, customer_user_id, content, sender, source,
         wa_message_id, business_phone_number_id, message_type, meta_timestamp, status, attempts,
         attempts_by_request, lease_expires_at)
    VALUES (v_tenant.user_id, v_key, p_customer_wa_id, p_customer_user_id, p_content, 'user',
            'whatsapp', p_wa_message_id, p_phone_number_id, p_message_type, p_meta_timestamp,
            'answering', 1,
            CASE WHEN p_request_id IS NOT NULL THEN jsonb_build_object(p_request_id, 1) END,
            now() + make_interval(secs => p_lease_seconds))
    ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL
    DO UPDATE SET
        status = CASE
            WHEN c.status IN ('sending', 'resending') THEN 'outcome_unknown'
            WHEN c.status = 'send_retry' THEN 'resending'
            ELSE 'answering'
        END,
        attempts = c.attempts + 1,
        attempts_by_request = CASE
            WHEN p_request_id IS NULL THEN c.attempts_by_request
            ELSE coalesce(c.attempts_by_request, '{}'::jsonb) || jsonb_build_object(
                p_request_id, coalesce((c.attempts_by_request ->> p_request_id)::integer, 0) + 1)
        END,
        lease_expires_at = EXCLUDED.lease_expires_at,
        updated_at = now()
    WHERE c.status IN ('received', 'answering', 'sending', 'send_retry', 'resending')
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
    RETURNING c.id, c.status,
              CASE WHEN p_request_id IS NULL THEN c.attempts
                   ELSE (c.attempts_by_request ->> p_request_id)::integer END,
              c.phone_number
    INTO v_id, v_status, v_attempts, v_key;

    IF v_id IS NULL THEN
        SELECT c.status, coalesce(c.lease_expires_at > now(), false), c.phone_number
        INTO v_existing_status, v_existing_leased, v_key
        FROM customer_conversations AS c
        WHERE c.user_id = v_tenant.user_id AND c.wa_message_id = p_wa_message_id;
    ELSE
        v_earlier := earlier_messages_pending(v_id);
        v_waiting := earlier_messages_waiting(v_id, p_order_window);
    END IF;

    RETURN QUERY
    SELECT row_to_json(v_tenant), v_key, v_id, v_status, v_attempts, v_existing_status,
           v_existing_leased, v_earlier, v_waiting,
           conversation_history(v_tenant.user_id, v_key, p_wa_message_id, p_meta_timestamp,
                                v_tenant.history_length);
END;
$$;
