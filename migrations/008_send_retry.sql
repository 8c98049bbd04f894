-- No reply lost to a passing fault, and replies kept in order:
-- * a reply whose send Meta refused for now is kept (`send_retry`, parts `send_retry`) for a later
--   invocation to resend as it is, without asking Groq again (`resending` while it does);
-- * the parts of a split reply are numbered (`reply_part`), so history lists them in order.
-- handler/model.py names the statuses (MessageStatus, ReplyStatus).

ALTER TABLE customer_conversations ADD COLUMN reply_part smallint;  -- 0..n-1 on bot rows, NULL on others

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

-- As 007's, plus the resend: a message in `send_retry` is claimed as `resending` (its recorded
-- reply is sent again, Groq is not asked); a lease that ran out during a send or a resend means
-- the send may have reached the customer (`outcome_unknown`, never resent).
CREATE OR REPLACE FUNCTION claim_customer_message(
    p_phone_number_id text,
    p_customer_wa_id text,
    p_customer_user_id text,
    p_content text,
    p_wa_message_id text,
    p_message_type text,
    p_meta_timestamp timestamptz,
    p_lease_seconds double precision
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
         lease_expires_at)
    VALUES (v_tenant.user_id, v_key, p_customer_wa_id, p_customer_user_id, p_content, 'user',
            'whatsapp', p_wa_message_id, p_phone_number_id, p_message_type, p_meta_timestamp,
            'answering', 1, now() + make_interval(secs => p_lease_seconds))
    ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL
    DO UPDATE SET
        status = CASE
            WHEN c.status IN ('sending', 'resending') THEN 'outcome_unknown'
            WHEN c.status = 'send_retry' THEN 'resending'
            ELSE 'answering'
        END,
        attempts = c.attempts + 1,
        lease_expires_at = EXCLUDED.lease_expires_at,
        updated_at = now()
    WHERE c.status IN ('received', 'answering', 'sending', 'send_retry', 'resending')
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
    RETURNING c.id, c.status, c.attempts, c.phone_number INTO v_id, v_status, v_attempts, v_key;

    IF v_id IS NULL THEN
        SELECT c.status, coalesce(c.lease_expires_at > now(), false), c.phone_number
        INTO v_existing_status, v_existing_leased, v_key
        FROM customer_conversations AS c
        WHERE c.user_id = v_tenant.user_id AND c.wa_message_id = p_wa_message_id;
    ELSE
        v_earlier := earlier_messages_pending(v_id);
    END IF;

    RETURN QUERY
    SELECT row_to_json(v_tenant), v_key, v_id, v_status, v_attempts, v_existing_status,
           v_existing_leased, v_earlier,
           conversation_history(v_tenant.user_id, v_key, p_wa_message_id, p_meta_timestamp,
                                v_tenant.history_length);
END;
$$;
