-- One round trip claims an inbound WhatsApp message: finds the tenant, takes a per-(tenant,
-- customer) lock, inserts or re-claims the message row (dedupe), counts earlier messages of the
-- same customer still being answered (ordering), and returns the conversation history.
--
-- A function rather than one CTE because each statement inside it takes a fresh snapshot after
-- the lock: two containers claiming messages of one customer at once see each other's rows.

CREATE OR REPLACE FUNCTION claim_inbound_message(
    p_phone_number_id text,
    p_customer text,
    p_content text,
    p_wa_message_id text,
    p_message_type text,
    p_meta_timestamp timestamptz,
    p_lease_seconds double precision
)
RETURNS TABLE (
    user_id uuid,
    phone_number_id text,
    access_token text,
    app_secret text,
    has_groq boolean,
    api_key text,
    model text,
    temperature numeric,
    system_prompt text,
    history_length integer,
    fallback_text text,
    unsupported_media_text text,
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
    v_user uuid;
    v_id uuid;
    v_status text;
    v_attempts integer;
    v_existing_status text;
    v_existing_leased boolean;
    v_earlier bigint := 0;
BEGIN
    SELECT w.user_id INTO v_user
    FROM user_whatsapp_config AS w
    WHERE w.phone_number_id = p_phone_number_id AND w.is_active;
    IF v_user IS NULL THEN
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended(v_user::text || '/' || p_customer, 0));

    INSERT INTO customer_conversations AS c
        (user_id, phone_number, content, sender, source, wa_message_id, business_phone_number_id,
         message_type, meta_timestamp, status, attempts, lease_expires_at)
    VALUES (v_user, p_customer, p_content, 'user', 'whatsapp', p_wa_message_id, p_phone_number_id,
            p_message_type, p_meta_timestamp, 'answering', 1,
            now() + make_interval(secs => p_lease_seconds))
    ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL
    DO UPDATE SET
        -- A lease that ran out while the reply was being sent: it may have reached the customer.
        status = CASE WHEN c.status = 'sending' THEN 'outcome_unknown' ELSE 'answering' END,
        attempts = c.attempts + 1,
        lease_expires_at = EXCLUDED.lease_expires_at,
        updated_at = now()
    WHERE c.status IN ('received', 'answering', 'sending')
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
    RETURNING c.id, c.status, c.attempts INTO v_id, v_status, v_attempts;

    IF v_id IS NULL THEN
        SELECT c.status, coalesce(c.lease_expires_at > now(), false)
        INTO v_existing_status, v_existing_leased
        FROM customer_conversations AS c
        WHERE c.user_id = v_user AND c.wa_message_id = p_wa_message_id;
    ELSE
        v_earlier := earlier_messages_pending(v_id);
    END IF;

    RETURN QUERY
    SELECT w.user_id, w.phone_number_id, w.access_token, w.app_secret,
           g.id IS NOT NULL, g.api_key, g.model, g.temperature,
           g.system_prompt, coalesce(g.history_length, 10), g.fallback_text,
           g.unsupported_media_text,
           v_id, v_status, v_attempts, v_existing_status, v_existing_leased, v_earlier,
           conversation_history(v_user, p_customer, p_wa_message_id, p_meta_timestamp, coalesce(g.history_length, 10))
    FROM user_whatsapp_config AS w
    LEFT JOIN LATERAL (
        SELECT * FROM user_groq_config AS g
        WHERE g.user_id = w.user_id
        ORDER BY g.updated_at DESC NULLS LAST, g.id
        LIMIT 1
    ) AS g ON true
    WHERE w.phone_number_id = p_phone_number_id AND w.is_active;
END;
$$;

-- Earlier messages of the same customer to the same tenant that another invocation is answering
-- now: this one waits for them, so that replies go out in the order the customer wrote.
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
      AND c.status IN ('received', 'answering', 'sending')
      AND c.lease_expires_at > now()
      AND (coalesce(c.meta_timestamp, c.created_at), c.created_at)
          < (coalesce(me.meta_timestamp, me.created_at), me.created_at)
$$;

-- The last `p_limit` messages with one customer, oldest first: not the message being answered,
-- nor customer messages sent after it (they may already be waiting their turn).
CREATE OR REPLACE FUNCTION conversation_history(
    p_user uuid, p_customer text, p_exclude_wa_message_id text, p_before timestamptz, p_limit integer
)
RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_object('sender', h.sender, 'content', h.content)
                             ORDER BY h.created_at, h.sender DESC), '[]')
    FROM (
        SELECT c.sender, c.content, c.created_at
        FROM customer_conversations AS c
        WHERE c.user_id = p_user AND c.phone_number = p_customer
          AND c.content IS NOT NULL AND c.sender IN ('user', 'bot')
          AND c.wa_message_id IS DISTINCT FROM p_exclude_wa_message_id
          AND (c.sender = 'bot' OR p_before IS NULL OR c.meta_timestamp IS NULL OR c.meta_timestamp <= p_before)
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT p_limit
    ) AS h
$$;

-- For an invocation waiting its turn: is it still waiting, and the history as it is now.
CREATE OR REPLACE FUNCTION claim_progress(p_inbound uuid, p_limit integer)
RETURNS TABLE (earlier_pending bigint, history json)
LANGUAGE sql STABLE
AS $$
    SELECT earlier_messages_pending(me.id),
           conversation_history(me.user_id, me.phone_number, me.wa_message_id, me.meta_timestamp, p_limit)
    FROM customer_conversations AS me
    WHERE me.id = p_inbound
$$;
