-- A lease left by a crashed attempt no longer outlives Lambda's retry of the same event.
--
-- A lease lasts the invocation's remaining time (the function timeout: 90 s by default), but
-- Lambda retries a failed event after about a minute. An attempt that claimed a message and then
-- failed without giving it back (the database went away, the container was killed) left a lease
-- that was still running when its own retry came: the retry saw "another invocation holds it",
-- deferred, and succeeded, and the message was never answered. Lambda runs an event's retry only
-- after the attempt before it ended, so a lease held by the same request id (`lease_holder`) is a
-- dead attempt's: the retry takes it over. Only once `p_takeover_after` seconds (half Lambda's
-- shortest retry delay) have passed since the row last moved, so that a duplicate delivery of one
-- event (Lambda delivers at least once, and a duplicate may carry the same request id), arriving
-- while the first still runs, does not answer the message twice.

ALTER TABLE customer_conversations
    ADD COLUMN lease_holder text;  -- the aws_request_id of the invocation holding the lease

DROP FUNCTION claim_customer_message(
    text, text, text, text, text, text, timestamptz, double precision, text, double precision
);
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
    p_order_window double precision,
    p_takeover_after double precision
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
         attempts_by_request, lease_expires_at, lease_holder)
    VALUES (v_tenant.user_id, v_key, p_customer_wa_id, p_customer_user_id, p_content, 'user',
            'whatsapp', p_wa_message_id, p_phone_number_id, p_message_type, p_meta_timestamp,
            'answering', 1,
            CASE WHEN p_request_id IS NOT NULL THEN jsonb_build_object(p_request_id, 1) END,
            now() + make_interval(secs => p_lease_seconds), p_request_id)
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
        lease_holder = p_request_id,
        updated_at = now()
    WHERE c.status IN ('received', 'answering', 'sending', 'send_retry', 'resending')
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now()
           OR (p_request_id IS NOT NULL AND c.lease_holder = p_request_id
               AND c.updated_at <= now() - make_interval(secs => p_takeover_after)))
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
