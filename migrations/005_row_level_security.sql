-- Row Level Security on the tenant tables: a tenant's own database access (a dashboard signed in
-- as that tenant) sees and changes only rows whose user_id is auth.uid().
--
-- The handler and the admin tooling connect as the tables' owner (or a role with BYPASSRLS), which
-- RLS does not restrict: tables are not FORCEd. See README, "Security".

-- Supabase defines auth.uid(); elsewhere a compatible one reads the same request settings
-- (`request.jwt.claim.sub`, or `sub` inside `request.jwt.claims`).
DO $$
BEGIN
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
        LANGUAGE sql STABLE
        AS $f$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            )::uuid
        $f$;
    END IF;
END
$$;

ALTER TABLE user_whatsapp_config ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_groq_config ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE web_chat_keys ENABLE ROW LEVEL SECURITY;

-- Named for this project, so policies a seed database already has are left as they are.
DROP POLICY IF EXISTS whatsapp_assistant_own_rows ON user_whatsapp_config;
CREATE POLICY whatsapp_assistant_own_rows ON user_whatsapp_config
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
DROP POLICY IF EXISTS whatsapp_assistant_own_rows ON user_groq_config;
CREATE POLICY whatsapp_assistant_own_rows ON user_groq_config
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
DROP POLICY IF EXISTS whatsapp_assistant_own_rows ON customer_conversations;
CREATE POLICY whatsapp_assistant_own_rows ON customer_conversations
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
DROP POLICY IF EXISTS whatsapp_assistant_own_rows ON web_chat_keys;
CREATE POLICY whatsapp_assistant_own_rows ON web_chat_keys
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
