-- The seed system's tables, exactly as it defined them, created only where absent:
-- on Supabase auth.users exists already, and a team moving from the seed system has all of them.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS user_whatsapp_config (
    id              uuid PRIMARY KEY,
    user_id         uuid REFERENCES auth.users(id),
    access_token    text NOT NULL,
    phone_number_id text NOT NULL,
    app_id          text,
    app_secret      text,
    webhook_url     text,
    is_active       boolean DEFAULT true,
    created_at      timestamptz DEFAULT now(),
    updated_at      timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS user_groq_config (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES auth.users(id),
    api_key     text NOT NULL,
    model       text DEFAULT 'llama3-70b-8192',
    temperature numeric DEFAULT 0.7,
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS customer_conversations (
    id           uuid PRIMARY KEY,
    user_id      uuid REFERENCES auth.users(id),
    phone_number text,
    content      text,
    sender       text,
    source       text,
    created_at   timestamptz DEFAULT now()
);
