"""Answering a customer: what to do (decide, pure) and doing it (one executor)."""
