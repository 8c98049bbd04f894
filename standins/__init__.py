"""Local servers that speak the real protocols of Groq, the WhatsApp Graph API and AWS Lambda."""
