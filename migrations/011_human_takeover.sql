-- A human can take over: the business's own messages from the WhatsApp Business app (coexistence,
-- `smb_message_echoes`) are kept in the conversation and pause the assistant for that customer;
-- customers opt out of (and back into) its answers with a stop (start) word; an operator pauses a
-- customer or the whole tenant. Quiet means stored and not answered: every customer message is
-- still recorded, with the reason it was not answered (`quiet_reason`). handler/model.py names the
-- values (QuietReason, PauseReason, OptOutScope); handler/conversation/decide.py decides.

-- Conversations ---------------------------------------------------------------------------------
-- `business`: a message the business wrote by hand (status `sent`, or `revoked` once it deleted
-- it in the app). NOT VALID as in 002: enforced on new and changed rows.
ALTER TABLE customer_conversations DROP CONSTRAINT IF EXISTS customer_conversations_sender_known;
ALTER TABLE customer_conversations
    ADD CONSTRAINT customer_conversations_sender_known
        CHECK (sender IN ('user', 'bot', 'business')) NOT VALID,
    -- Why the assistant did not answer a customer message (status `quiet`), or answered it with a
    -- fixed confirmation instead of the AI (a stop or start word); NULL on every other row.
    ADD COLUMN quiet_reason text
        CONSTRAINT customer_conversations_quiet_reason_known CHECK (quiet_reason IN (
            'bot_off', 'paused_by_operator', 'paused_by_human', 'opted_out', 'stop_word', 'start_word'));

-- Tenant settings -------------------------------------------------------------------------------
-- One row per tenant that changed a default (`wa-admin set-handover`, `wa-admin pause --all`).
CREATE TABLE tenant_handover_settings (
    user_id             uuid PRIMARY KEY REFERENCES auth.users(id) ON DELETE CASCADE,
    -- The whole assistant is off until then ('infinity': until `wa-admin resume --all`); messages
    -- are still recorded, statuses still applied.
    bot_paused_until    timestamptz,
    -- How long the assistant stays quiet for a customer after the business wrote to them by hand.
    human_pause_seconds integer NOT NULL DEFAULT 43200
        CONSTRAINT tenant_handover_settings_human_pause_range CHECK (human_pause_seconds BETWEEN 0 AND 2592000),
    -- The languages whose default stop and start words (and confirmations) apply, first = fallback;
    -- by default every language with default words (handler/conversation/opt_out_words.py), so
    -- that a customer's STOP, ARRET or BAJA is honoured before anyone set anything.
    languages           text[] NOT NULL DEFAULT '{fr,en,es,pt,de,it}'
        CONSTRAINT tenant_handover_settings_languages CHECK (cardinality(languages) BETWEEN 1 AND 10),
    stop_words          text[],  -- NULL: the defaults of `languages`
    start_words         text[],  -- NULL: the defaults of `languages`
    opt_out_text        text,    -- NULL: the default confirmation in the stop word's language
    opt_in_text         text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- As 010's view, with the handover settings at the end (their defaults when a tenant has no row).
CREATE OR REPLACE VIEW tenant_settings WITH (security_invoker = true) AS
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
       coalesce(g.typing_indicator, true) AS typing_indicator,
       g.vision_model,
       g.transcription_model,
       g.transcription_language,
       coalesce(h.bot_paused_until > now(), false) AS bot_paused,
       h.bot_paused_until,
       coalesce(h.human_pause_seconds, 43200) AS human_pause_seconds,
       coalesce(h.languages, '{fr,en,es,pt,de,it}') AS opt_out_languages,
       h.stop_words,
       h.start_words,
       h.opt_out_text,
       h.opt_in_text
FROM auth.users AS u
LEFT JOIN user_whatsapp_config AS w ON w.user_id = u.id AND w.is_active
LEFT JOIN LATERAL (
    SELECT * FROM user_groq_config AS g
    WHERE g.user_id = u.id
    ORDER BY g.updated_at DESC NULLS LAST, g.id
    LIMIT 1
) AS g ON true
LEFT JOIN tenant_handover_settings AS h ON h.user_id = u.id;

-- Pauses and opt-outs ---------------------------------------------------------------------------
-- A conversation the assistant keeps out of, by its key (customer_conversations.phone_number: the
-- customer's phone number or BSUID). A pause that ran out stays as a row and changes nothing.
CREATE TABLE conversation_pauses (
    user_id      uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    customer_key text NOT NULL,
    paused_until timestamptz NOT NULL,  -- 'infinity': until `wa-admin resume`
    reason       text NOT NULL CONSTRAINT conversation_pauses_reason_known
                     CHECK (reason IN ('human_reply', 'operator')),
    paused_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, customer_key)
);

-- A customer's latest choice, per scope: `assistant` (stop and start words: no AI answer while
-- opted out) and `marketing` (Meta's `user_preferences` webhook: recorded and listed only).
CREATE TABLE customer_opt_outs (
    user_id          uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    customer_key     text NOT NULL,
    scope            text NOT NULL CONSTRAINT customer_opt_outs_scope_known
                         CHECK (scope IN ('assistant', 'marketing')),
    opted_out        boolean NOT NULL,
    source           text NOT NULL,  -- stop_word, start_word, user_preferences
    detail           text,           -- the word the customer wrote, or Meta's `detail`
    customer_wa_id   text,
    customer_user_id text,
    changed_at       timestamptz NOT NULL,  -- when the customer asked (Meta's timestamp)
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, customer_key, scope)
);

ALTER TABLE tenant_handover_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY whatsapp_assistant_own_rows ON tenant_handover_settings
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
ALTER TABLE conversation_pauses ENABLE ROW LEVEL SECURITY;
CREATE POLICY whatsapp_assistant_own_rows ON conversation_pauses
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
ALTER TABLE customer_opt_outs ENABLE ROW LEVEL SECURITY;
CREATE POLICY whatsapp_assistant_own_rows ON customer_opt_outs
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

-- Functions -------------------------------------------------------------------------------------
-- The conversation key of a customer with a tenant, as claim_customer_message (009) chooses it:
-- the key their BSUID already has, else the key their phone number already has, else the phone
-- number, else the BSUID.
CREATE FUNCTION customer_conversation_key(p_user uuid, p_wa_id text, p_user_id text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        (SELECT c.phone_number FROM customer_conversations AS c
         WHERE p_user_id IS NOT NULL AND c.user_id = p_user AND c.customer_user_id = p_user_id
           AND c.sender = 'user' AND c.phone_number IS NOT NULL
         ORDER BY c.created_at DESC LIMIT 1),
        (SELECT c.phone_number FROM customer_conversations AS c
         WHERE p_wa_id IS NOT NULL AND c.user_id = p_user AND c.customer_wa_id = p_wa_id
           AND c.sender = 'user' AND c.phone_number IS NOT NULL
         ORDER BY c.created_at DESC LIMIT 1),
        p_wa_id,
        p_user_id)
$$;

-- What keeps the assistant quiet for one conversation now (as one JSON object): an active pause,
-- its reason and end (null: until resumed), and whether the customer opted out of its answers.
-- VOLATILE so that, read beside the claim (`SELECT c.*, customer_controls(…) FROM
-- claim_customer_message(…)`), it sees what was committed until the claim took its lock.
CREATE FUNCTION customer_controls(p_user uuid, p_key text)
RETURNS json
LANGUAGE sql VOLATILE
AS $$
    SELECT json_build_object(
        'pause_reason', p.reason,
        'paused_until', CASE WHEN isfinite(p.paused_until) THEN p.paused_until END,
        'opted_out', coalesce(o.opted_out, false))
    FROM (SELECT 1) AS one
    LEFT JOIN conversation_pauses AS p
      ON p.user_id = p_user AND p.customer_key = p_key AND p.paused_until > now()
    LEFT JOIN customer_opt_outs AS o
      ON o.user_id = p_user AND o.customer_key = p_key AND o.scope = 'assistant'
$$;

-- The customer's latest choice for a scope; an older one arriving late changes nothing.
CREATE FUNCTION set_customer_opt_out(
    p_user uuid, p_key text, p_scope text, p_opted_out boolean, p_source text, p_detail text,
    p_customer_wa_id text, p_customer_user_id text, p_changed_at timestamptz
)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH written AS (
        INSERT INTO customer_opt_outs AS o
            (user_id, customer_key, scope, opted_out, source, detail, customer_wa_id,
             customer_user_id, changed_at)
        VALUES (p_user, p_key, p_scope, p_opted_out, p_source, p_detail, p_customer_wa_id,
                p_customer_user_id, p_changed_at)
        ON CONFLICT (user_id, customer_key, scope) DO UPDATE
        SET opted_out = EXCLUDED.opted_out, source = EXCLUDED.source, detail = EXCLUDED.detail,
            customer_wa_id = coalesce(EXCLUDED.customer_wa_id, o.customer_wa_id),
            customer_user_id = coalesce(EXCLUDED.customer_user_id, o.customer_user_id),
            changed_at = EXCLUDED.changed_at, recorded_at = now()
        WHERE o.changed_at <= EXCLUDED.changed_at
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM written)
$$;

-- The business wrote to a customer from the WhatsApp Business app (`p_kind` message), or edited or
-- deleted a message it wrote there (`edit`, `revoke`, naming `p_original`). The message is kept as
-- a `business` row of the conversation (an edit changes its content, a revoke marks it `revoked`:
-- kept, out of the AI's history), and the assistant pauses for `p_pause_seconds` from the
-- message's time (0: no pause; a longer pause, e.g. an operator's, is kept). An echo of a message
-- this system sent itself (its id is on a row of ours that is not `business`) changes nothing.
-- `outcome`: recorded, duplicate, edited, revoked, unknown_original, own_message.
CREATE FUNCTION record_business_echo(
    p_user uuid,
    p_phone_number_id text,
    p_customer_wa_id text,
    p_customer_user_id text,
    p_kind text,
    p_original text,
    p_content text,
    p_wa_message_id text,
    p_message_type text,
    p_meta_timestamp timestamptz,
    p_pause_seconds double precision
)
RETURNS TABLE (customer_key text, outcome text, paused_until timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_key text;
    v_outcome text;
    v_until timestamptz;
    v_id uuid;
BEGIN
    -- The claim's lock: a customer's messages and the business's echoes to them go one at a time.
    PERFORM pg_advisory_xact_lock(
        hashtextextended(p_user::text || '/' || coalesce(p_customer_user_id, p_customer_wa_id), 0)
    );
    v_key := customer_conversation_key(p_user, p_customer_wa_id, p_customer_user_id);

    IF EXISTS (SELECT 1 FROM customer_conversations AS c
               WHERE c.user_id = p_user AND c.wa_message_id IN (p_wa_message_id, p_original)
                 AND c.sender <> 'business') THEN
        v_outcome := 'own_message';
    ELSIF p_kind = 'message' THEN
        INSERT INTO customer_conversations AS c
            (user_id, phone_number, customer_wa_id, customer_user_id, content, sender, source,
             wa_message_id, business_phone_number_id, message_type, meta_timestamp, status)
        VALUES (p_user, v_key, p_customer_wa_id, p_customer_user_id, p_content, 'business',
                'whatsapp', p_wa_message_id, p_phone_number_id, p_message_type, p_meta_timestamp,
                'sent')
        ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL DO NOTHING
        RETURNING c.id INTO v_id;
        v_outcome := CASE WHEN v_id IS NULL THEN 'duplicate' ELSE 'recorded' END;
    ELSE
        UPDATE customer_conversations AS c
        SET content = CASE WHEN p_kind = 'edit' THEN p_content ELSE c.content END,
            status = CASE WHEN p_kind = 'revoke' THEN 'revoked' ELSE c.status END,
            updated_at = now()
        WHERE c.user_id = p_user AND c.wa_message_id = p_original AND c.sender = 'business'
        RETURNING c.id, c.phone_number INTO v_id, v_key;
        v_key := coalesce(v_key, customer_conversation_key(p_user, p_customer_wa_id, p_customer_user_id));
        v_outcome := CASE WHEN v_id IS NULL THEN 'unknown_original'
                          WHEN p_kind = 'edit' THEN 'edited' ELSE 'revoked' END;
    END IF;

    -- Replaying an echo pauses until the same time again: nothing changes.
    IF v_outcome <> 'own_message' AND p_pause_seconds > 0 THEN
        INSERT INTO conversation_pauses AS p (user_id, customer_key, paused_until, reason)
        VALUES (p_user, v_key,
                least(coalesce(p_meta_timestamp, now()), now()) + make_interval(secs => p_pause_seconds),
                'human_reply')
        ON CONFLICT (user_id, customer_key) DO UPDATE
        SET reason = CASE WHEN p.paused_until > EXCLUDED.paused_until THEN p.reason ELSE EXCLUDED.reason END,
            paused_at = CASE WHEN p.paused_until > now() THEN p.paused_at ELSE now() END,
            paused_until = greatest(p.paused_until, EXCLUDED.paused_until);
    END IF;
    SELECT p.paused_until INTO v_until
    FROM conversation_pauses AS p
    WHERE p.user_id = p_user AND p.customer_key = v_key AND p.paused_until > now();

    RETURN QUERY SELECT v_key, v_outcome, CASE WHEN isfinite(v_until) THEN v_until END;
END;
$$;

-- As 008's, with the business's own messages as turns of the conversation (the AI reads them as
-- its side: what "the business" said), except the ones it deleted; same ordering rules.
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
          AND c.content IS NOT NULL AND c.sender IN ('user', 'bot', 'business')
          AND NOT (c.sender = 'business' AND c.status = 'revoked')
          AND c.wa_message_id IS DISTINCT FROM p_exclude_wa_message_id
          AND (c.sender = 'bot' OR p_before IS NULL OR c.meta_timestamp IS NULL OR c.meta_timestamp <= p_before)
        ORDER BY turn_at DESC, is_reply DESC, part DESC, c.created_at DESC
        LIMIT p_limit
    ) AS h
$$;
