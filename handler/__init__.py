"""The AWS Lambda that answers customers: tenant lookup, Groq reply, WhatsApp send, conversation log."""
