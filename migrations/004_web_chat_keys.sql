-- Web chat requests name a tenant (`webUserId`) and carry that tenant's web chat key. Only a
-- SHA-256 digest of the key is stored (bound to the tenant: see shared/web_chat_keys.py); the key
-- itself is printed once by `wa-admin issue-web-chat-key`. One key per tenant: issuing replaces it.
CREATE TABLE IF NOT EXISTS web_chat_keys (
    user_id    uuid PRIMARY KEY REFERENCES auth.users(id) ON DELETE CASCADE,
    key_hash   text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
