"""The handler's SQL: each statement one round trip (the claim is a function, migrations/007); a
tenant's settings come from the view tenant_settings, as one JSON object."""

from __future__ import annotations

# migrations/009_lease_takeover.sql: tenant (as JSON of tenant_settings), lock, customer, dedupe
# claim (attempts counted per Lambda request, a dead attempt's lease taken over by its retry),
# ordering and history in one call; and (migrations/011) what keeps the assistant out of that
# conversation now, read under the claim's lock.
CLAIM_MESSAGE = """
SELECT c.*, customer_controls((c.tenant ->> 'user_id')::uuid, c.customer_key) AS controls
FROM claim_customer_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS c
"""
CLAIM_PROGRESS = "SELECT * FROM claim_progress($1, $2, $3)"

RECORD_WEB_MESSAGE = """
WITH inserted AS (
    INSERT INTO customer_conversations
        (user_id, phone_number, content, sender, source, message_type, status)
    VALUES ($1, $2, $3, 'user', 'web', 'text', 'answering')
    RETURNING id
),
history AS (
    SELECT sender, content, created_at, coalesce(reply_part, -1) AS part, id
    FROM customer_conversations
    WHERE user_id = $1 AND phone_number = $2 AND source = 'web'
      AND content IS NOT NULL AND sender IN ('user', 'bot')
    ORDER BY created_at DESC, coalesce(reply_part, -1) DESC, id DESC
    LIMIT $4
)
SELECT (SELECT id FROM inserted) AS inbound_id,
       (SELECT coalesce(json_agg(json_build_object('sender', sender, 'content', content)
                                 ORDER BY created_at, part, sender DESC), '[]')
        FROM history) AS history
"""

RECORD_UNIDENTIFIED = """
INSERT INTO customer_conversations
    (user_id, phone_number, customer_wa_id, customer_user_id, content, sender, source, wa_message_id,
     business_phone_number_id, message_type, meta_timestamp, status, error_title)
VALUES (NULL, coalesce($2, $3), $2, $3, $4, 'user', 'whatsapp', $5, $1, $6, $7, 'failed',
        'tenant not configured')
ON CONFLICT (user_id, wa_message_id) WHERE wa_message_id IS NOT NULL DO NOTHING
"""

RECORD_REPLY = """
WITH inbound AS (
    UPDATE customer_conversations
    SET status = $2, error_title = coalesce($5, error_title), updated_at = now()
    WHERE id = $1
    RETURNING user_id, phone_number, source, business_phone_number_id
)
INSERT INTO customer_conversations
    (id, user_id, phone_number, content, sender, source, business_phone_number_id, reply_to,
     reply_part, status, error_title)
SELECT part.id, inbound.user_id, inbound.phone_number, part.content, 'bot', inbound.source,
       inbound.business_phone_number_id, $1, part.n - 1, $6, $7
FROM inbound, unnest($3::uuid[], $4::text[]) WITH ORDINALITY AS part(id, content, n)
"""

# A retry resending a recorded reply: the parts Meta has not accepted yet, in their order.
PARTS_TO_RESEND = """
SELECT id, content
FROM customer_conversations
WHERE reply_to = $1 AND sender = 'bot' AND status = 'send_retry'
ORDER BY reply_part, created_at
"""

RECORD_SEND_RESULTS = """
WITH results AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[])
        AS r(id, wa_message_id, status, error_code, error_title)
),
bot AS (
    UPDATE customer_conversations AS c
    SET wa_message_id = r.wa_message_id, status = r.status, error_code = r.error_code,
        error_title = r.error_title, updated_at = now()
    FROM results AS r
    WHERE c.id = r.id
)
UPDATE customer_conversations
SET status = $7, error_code = $8, error_title = coalesce($9, error_title),
    lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""
# ($7 `send_retry`: no lease, so the next invocation may claim it at once and resend.)

RELEASE_CLAIM = """
UPDATE customer_conversations
SET status = 'received', lease_expires_at = now(), updated_at = now()
WHERE id = $1 AND status = 'answering'
"""

# A message refused before any work: kept as a failed row for the record, without its content
# (it must not enter the tenant's conversation history).
REFUSE_MESSAGE = """
UPDATE customer_conversations
SET status = 'failed', content = NULL, error_title = $2, lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""

# A voice note or image understood (its transcript becomes the message's content), or not (the
# reason is kept). Only while the message is being answered: a finished one is never rewritten.
RECORD_MEDIA_OUTCOME = """
UPDATE customer_conversations
SET media_outcome = $2, content = coalesce($3, content), error_title = coalesce($4, error_title),
    updated_at = now()
WHERE id = $1 AND status = 'answering'
"""

FINISH_MESSAGE = """
UPDATE customer_conversations
SET status = $2, error_code = $3, error_title = $4, lease_expires_at = NULL, updated_at = now()
WHERE id = $1
"""

# Statuses arrive out of order (read before delivered); only a later stage overwrites. A tenant
# with its own Meta app secret is updated only when the caller vouches for the payload ($6), else
# the row comes back with the secret's ciphertext so the caller can check and try again.
APPLY_STATUS = """
WITH target AS (
    SELECT c.id, w.user_id, w.app_secret
    FROM user_whatsapp_config AS w
    JOIN customer_conversations AS c ON c.user_id = w.user_id
    WHERE w.phone_number_id = $1 AND w.is_active AND c.wa_message_id = $2 AND c.sender = 'bot'
),
updated AS (
    UPDATE customer_conversations AS c
    SET status = $3, error_code = $4, error_title = $5, updated_at = now()
    FROM target AS t
    WHERE c.id = t.id AND (t.app_secret IS NULL OR $6)
      AND coalesce(array_position(ARRAY['sending', 'sent', 'delivered', 'read', 'failed'], c.status), 0)
          < array_position(ARRAY['sending', 'sent', 'delivered', 'read', 'failed'], $3)
    RETURNING c.id
)
SELECT (SELECT count(*) FROM updated) AS applied, t.user_id, t.app_secret FROM target AS t
"""
# (No row: no reply of this tenant has that id. A row with applied 0: the reply is known and is at
# this stage or a later one already — `sent` after `read`, Meta's duplicates — or needs the secret.)

FIND_TENANT_BY_USER_ID = """
SELECT row_to_json(t) AS tenant,
       (SELECT k.key_hash FROM web_chat_keys AS k WHERE k.user_id = t.user_id) AS web_chat_key_hash
FROM tenant_settings AS t
WHERE t.user_id = $1
LIMIT 1
"""

# The seed's fallback when a request names no business number: the tenant the customer last wrote
# to (only through an active number).
FIND_TENANT_BY_CUSTOMER = """
SELECT row_to_json(t) AS tenant
FROM (
    SELECT user_id FROM customer_conversations
    WHERE phone_number = $1 AND user_id IS NOT NULL
    ORDER BY created_at DESC LIMIT 1
) AS last
JOIN tenant_settings AS t ON t.user_id = last.user_id AND t.phone_number_id IS NOT NULL
LIMIT 1
"""

RECORD_MODEL_SUBSTITUTION = """
INSERT INTO groq_model_substitutions AS s (user_id, requested_model, substitute_model, reason)
VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, requested_model) DO UPDATE
SET substitute_model = EXCLUDED.substitute_model, reason = EXCLUDED.reason, last_at = now(),
    times = s.times + 1
"""
