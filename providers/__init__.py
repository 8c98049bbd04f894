"""What we know about the services we call: Groq's model catalogue and the Graph API's versions.
Used by the handler, the operator tooling and the stand-ins, never the forwarder."""
