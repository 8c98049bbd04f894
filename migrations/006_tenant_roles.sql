-- Database roles bound to one tenant, whatever session settings they set.
--
-- auth.uid() reads `request.jwt.claim.sub`, which any role can SET: that is safe behind PostgREST
-- (Supabase sets it from a verified JWT and the client cannot run SQL), not for a login role handed
-- to a tenant. Postgres cannot forbid SET on such a setting, so a role listed here gets its tenant
-- from this table instead: the claim is ignored for it. Each role can read only its own row.
--

CREATE TABLE IF NOT EXISTS auth.tenant_roles (
    role_name  name PRIMARY KEY,
    -- No cascade: a role whose tenant vanished must not fall back to the settable claim.
    user_id    uuid NOT NULL REFERENCES auth.users(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE auth.tenant_roles ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_roles_own_row ON auth.tenant_roles;
CREATE POLICY tenant_roles_own_row ON auth.tenant_roles FOR SELECT USING (role_name = current_user);
GRANT SELECT ON auth.tenant_roles TO PUBLIC;

-- Only the auth.uid() migration 005 made is replaced (compared without whitespace): Supabase's, or
-- any other a database already had, stays as it is.
DO $$
DECLARE
    ours_005 constant text := $s$
        SELECT coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        )::uuid
    $s$;
    existing text;
BEGIN
    SELECT p.prosrc INTO existing FROM pg_proc AS p WHERE p.oid = to_regprocedure('auth.uid()');
    IF regexp_replace(existing, '\s', '', 'g') = regexp_replace(ours_005, '\s', '', 'g') THEN
        CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
        LANGUAGE sql STABLE
        AS $f$
            SELECT coalesce(
                (SELECT r.user_id FROM auth.tenant_roles AS r WHERE r.role_name = current_user),
                coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
                )::uuid
            )
        $f$;
        COMMENT ON FUNCTION auth.uid() IS 'whatsapp-assistant: tenant of a bound role, else the JWT claim';
    END IF;
END
$$;
