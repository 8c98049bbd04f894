-- Voice notes and images, understood instead of refused: per-tenant models for them, and what
-- became of each one in the conversation log.

-- Tenant settings -----------------------------------------------------------------------------
-- NULL: the deployment's default (DEFAULT_VISION_MODEL, DEFAULT_TRANSCRIPTION_MODEL; Groq's
-- qwen/qwen3.8-27b and whisper-large-v3-turbo as of December 2026), so that a deployment follows
-- Groq's catalogue without touching every tenant.
ALTER TABLE user_groq_config
    ADD COLUMN vision_model text,
    ADD COLUMN transcription_model text,
    -- ISO-639-1 (Groq also knows a few three-letter codes, e.g. yue); NULL: Groq detects it.
    ADD COLUMN transcription_language text
        CONSTRAINT user_groq_config_transcription_language_format
        CHECK (transcription_language ~ '^[a-z]{2,3}$');

-- The view of 007 with the new settings at the end (CREATE OR REPLACE keeps existing columns in
-- their order; the claim function returns its rows as JSON).
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
       g.transcription_language
FROM auth.users AS u
LEFT JOIN user_whatsapp_config AS w ON w.user_id = u.id AND w.is_active
LEFT JOIN LATERAL (
    SELECT * FROM user_groq_config AS g
    WHERE g.user_id = u.id
    ORDER BY g.updated_at DESC NULLS LAST, g.id
    LIMIT 1
) AS g ON true;

-- Conversations -------------------------------------------------------------------------------
-- A customer's voice note or image: `transcribed` (its content is the transcript, what history,
-- /history and the seed's monitoring queries read), `seen` (a vision model answered it; its
-- content says an image came, with its caption: the image itself is never stored) or `fell_back`
-- (the tenant's notice answered it; error_title says why). NULL for every other message.
ALTER TABLE customer_conversations
    ADD COLUMN media_outcome text
        CONSTRAINT customer_conversations_media_outcome_known
        CHECK (media_outcome IN ('transcribed', 'seen', 'fell_back'));
