-- Copied verbatim from the seed document ("Verification SQL" and "Monitoring Queries").
-- name: verification
SELECT
  u.email,
  w.phone_number_id as whatsapp_phone_id,
  w.is_active as whatsapp_active,
  CASE WHEN w.access_token IS NOT NULL THEN 'Configured' ELSE 'Missing' END as access_token,
  CASE WHEN g.api_key IS NOT NULL THEN 'Configured' ELSE 'Missing' END as groq_key
FROM auth.users u
LEFT JOIN user_whatsapp_config w ON w.user_id = u.id AND w.is_active = true
LEFT JOIN user_groq_config g ON g.user_id = u.id;
-- name: recent_messages
SELECT
  id,
  user_id,
  phone_number,
  sender,
  LEFT(content, 50) as content_preview,
  created_at
FROM customer_conversations
WHERE created_at > NOW() - INTERVAL '1 hour'
ORDER BY created_at DESC;
-- name: identification_rate
SELECT
  COUNT(*) as total_messages,
  COUNT(user_id) as identified_messages,
  ROUND(100.0 * COUNT(user_id) / COUNT(*), 2) as success_rate
FROM customer_conversations
WHERE created_at > NOW() - INTERVAL '24 hours'
AND sender = 'user'
AND source = 'whatsapp';
