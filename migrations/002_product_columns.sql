-- What the product needs beyond the seed: ids by default, one active number per phone_number_id,
-- per-tenant assistant settings, and per-message delivery state for dedupe and status webhooks.
-- Every change keeps existing rows and gives new columns defaults.

ALTER TABLE user_whatsapp_config ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE user_groq_config ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE customer_conversations ALTER COLUMN id SET DEFAULT gen_random_uuid();

-- WhatsApp numbers ---------------------------------------------------------------------------
-- The seed looked up `is_active = true`, so NULL always meant inactive.
UPDATE user_whatsapp_config SET is_active = false WHERE is_active IS NULL;
ALTER TABLE user_whatsapp_config
    ALTER COLUMN is_active SET NOT NULL,
    ALTER COLUMN is_active SET DEFAULT true,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET DEFAULT now();

-- A seed database may hold two active rows for one number; the most recently updated one wins.
UPDATE user_whatsapp_config AS older
SET is_active = false, updated_at = now()
WHERE older.is_active
  AND EXISTS (
      SELECT 1 FROM user_whatsapp_config AS newer
      WHERE newer.phone_number_id = older.phone_number_id
        AND newer.is_active
        AND (coalesce(newer.updated_at, newer.created_at, 'epoch'), newer.id)
          > (coalesce(older.updated_at, older.created_at, 'epoch'), older.id)
  );

CREATE UNIQUE INDEX user_whatsapp_config_one_active_number
    ON user_whatsapp_config (phone_number_id) WHERE is_active;
CREATE INDEX user_whatsapp_config_by_user ON user_whatsapp_config (user_id);
-- NOT VALID: enforced on every new or changed row, without rejecting what a seed database holds.
ALTER TABLE user_whatsapp_config
    ADD CONSTRAINT user_whatsapp_config_phone_number_id_numeric
    CHECK (phone_number_id ~ '^[0-9]+$') NOT VALID;

-- Groq and assistant settings -----------------------------------------------------------------
ALTER TABLE user_groq_config
    ALTER COLUMN model SET DEFAULT 'llama-3.3-70b-versatile',
    ALTER COLUMN temperature SET DEFAULT 0.7,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET DEFAULT now(),
    ADD COLUMN system_prompt text NOT NULL DEFAULT
        'Tu es l''assistant WhatsApp de cette entreprise. Réponds poliment, brièvement et dans la langue du client.',
    ADD COLUMN history_length integer NOT NULL DEFAULT 10,
    ADD COLUMN fallback_text text NOT NULL DEFAULT
        'Désolé, je ne peux pas répondre pour le moment. Merci de réessayer dans quelques instants.',
    ADD COLUMN unsupported_media_text text NOT NULL DEFAULT
        'Merci pour votre message ! Pour le moment, je ne sais lire que les messages écrits. Pouvez-vous m''écrire votre question ?',
    ADD CONSTRAINT user_groq_config_history_length_range CHECK (history_length BETWEEN 0 AND 100),
    ADD CONSTRAINT user_groq_config_temperature_range CHECK (temperature BETWEEN 0 AND 2) NOT VALID;
CREATE INDEX user_groq_config_by_user ON user_groq_config (user_id, updated_at DESC);

-- Conversations -------------------------------------------------------------------------------
ALTER TABLE customer_conversations
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN source SET DEFAULT 'whatsapp',
    -- WhatsApp's id of the message (inbound) or of the reply we sent (outbound).
    ADD COLUMN wa_message_id text,
    ADD COLUMN business_phone_number_id text,
    ADD COLUMN message_type text NOT NULL DEFAULT 'text',
    ADD COLUMN meta_timestamp timestamptz,
    -- Outbound rows point at the customer message they answer.
    ADD COLUMN reply_to uuid REFERENCES customer_conversations(id),
    -- Inbound: received, answering, answered, failed, outcome_unknown.
    -- Outbound: pending, sending, sent, delivered, read, failed, not_sent, outcome_unknown.
    ADD COLUMN status text,
    ADD COLUMN error_code integer,
    ADD COLUMN error_title text,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT customer_conversations_sender_known CHECK (sender IN ('user', 'bot')) NOT VALID;

-- Dedupe: one row per WhatsApp message id and tenant (unidentified messages share the NULL tenant).
CREATE UNIQUE INDEX customer_conversations_one_row_per_wa_message
    ON customer_conversations (user_id, wa_message_id) NULLS NOT DISTINCT
    WHERE wa_message_id IS NOT NULL;
-- History of one customer with one tenant, newest first.
CREATE INDEX customer_conversations_history
    ON customer_conversations (user_id, phone_number, created_at DESC);
-- The seed's fallback identification: the tenant a customer spoke to last.
CREATE INDEX customer_conversations_by_customer
    ON customer_conversations (phone_number, created_at DESC) WHERE user_id IS NOT NULL;
-- Monitoring queries and `stats` read recent rows.
CREATE INDEX customer_conversations_recent ON customer_conversations (created_at DESC);
