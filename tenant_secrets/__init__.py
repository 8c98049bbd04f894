"""Tenant secrets at rest: the master keys (KMS or local), AES-GCM encryption bound to a tenant and
column, and web chat key digests. Used by the handler and the operator tooling, never the forwarder."""
