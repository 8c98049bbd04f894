-- The platform as it is in 2026: customers known by a business-scoped user id (BSUID) instead of a
-- phone number, per-tenant typing indicators and Graph API version, Groq model substitutions, and
-- one view that is the only place a tenant's settings are listed in SQL.

-- Customers -----------------------------------------------------------------------------------
-- `phone_number` stays the conversation's key (the seed's queries read it): the customer's phone
-- number, or their BSUID when Meta shares no number. Both ids are kept as Meta gave them.
ALTER TABLE customer_conversations
    ADD COLUMN customer_wa_id text,    -- `messages[].from`: the phone number, when Meta shares it
    ADD COLUMN customer_user_id text;  -- `messages[].from_user_id`: the BSUID (e.g. US.1349…)
-- A BSUID seen before finds the conversation it belongs to.
CREATE INDEX customer_conversations_by_customer_user_id
    ON customer_conversations (user_id, customer_user_id, created_at DESC)
    WHERE customer_user_id IS NOT NULL;

-- Tenant settings -----------------------------------------------------------------------------
ALTER TABLE user_groq_config
    -- "typing…" and the blue ticks while the assistant thinks (one Graph call before Groq).
    ADD COLUMN typing_indicator boolean NOT NULL DEFAULT true;
ALTER TABLE user_whatsapp_config
    -- NULL: the deployment's GRAPH_API_VERSION.
    ADD COLUMN graph_api_version text
        CONSTRAINT user_whatsapp_config_graph_api_version_format CHECK (graph_api_version ~ '^v[0-9]+\.[0-9]+$');

-- Every setting the handler reads for a tenant, in one place: the tenant, its active number and
-- its latest Groq config. A new setting is a new column here and a field in handler's Tenant.
CREATE VIEW tenant_settings WITH (security_invoker = true) AS
SELECT u.id AS user_id,
       w.phone_number_id,
       w.access_token,
       w.app_secret,
       w.graph_api_version,
       g.id IS NOT NULL AS has_groq,
       g.api_key,
       g.model,
       g.temperature,
       g.system_prompt,
       coalesce(g.history_length, 10) AS history_length,
       g.fallback_text,
       g.unsupported_media_text,
       coalesce(g.typing_indicator, true) AS typing_indicator
FROM auth.users AS u
LEFT JOIN user_whatsapp_config AS w ON w.user_id = u.id AND w.is_active
LEFT JOIN LATERAL (
    SELECT * FROM user_groq_config AS g
    WHERE g.user_id = u.id
    ORDER BY g.updated_at DESC NULLS LAST, g.id
    LIMIT 1
) AS g ON true;

-- Groq model substitutions --------------------------------------------------------------------
-- Groq refused a tenant's model (retired or unknown) and the deployment's default answered
-- instead: `wa-admin check` shows it until the tenant's model is changed.
CREATE TABLE groq_model_substitutions (
    user_id          uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    requested_model  text NOT NULL,
    substitute_model text NOT NULL,
    reason           text NOT NULL,   -- e.g. "http 404 model_not_found": status and code, never a message
    first_at         timestamptz NOT NULL DEFAULT now(),
    last_at          timestamptz NOT NULL DEFAULT now(),
    times            bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, requested_model)
);
ALTER TABLE groq_model_substitutions ENABLE ROW LEVEL SECURITY;
CREATE POLICY whatsapp_assistant_own_rows ON groq_model_substitutions
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

-- The claim -----------------------------------------------------------------------------------
-- As claim_inbound_message (003), with the customer given by phone number and/or BSUID, and the
-- tenant returned as one JSON object of tenant_settings. The conversation key is the key this
-- BSUID already has with the tenant (so a customer first seen with a number and later with a BSUID
-- only stays one conversation), else the phone number, else the BSUID. (claim_inbound_message stays
-- for a handler version deployed before this migration.)
CREATE FUNCTION claim_customer_message(
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

    -- One lock per customer: the BSUID when Meta gives one (it always does since April 2026).
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
        -- A lease that ran out while the reply was being sent: it may have reached the customer.
        status = CASE WHEN c.status = 'sending' THEN 'outcome_unknown' ELSE 'answering' END,
        attempts = c.attempts + 1,
        lease_expires_at = EXCLUDED.lease_expires_at,
        updated_at = now()
    WHERE c.status IN ('received', 'answering', 'sending')
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
