"""Operator tooling, never shipped in a Lambda: migrations, secret rewrapping, retired-model upgrades,
and where the operator's database is (DATABASE_URL or the embedded local Postgres)."""
