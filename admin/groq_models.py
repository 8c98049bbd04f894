"""Groq models that Groq has retired, each with the current model an operator should switch to."""

from __future__ import annotations

# A request naming one of these fails at Groq; `check` reports tenants still configured with one.
RETIRED_GROQ_MODELS: dict[str, str] = {
    "llama3-70b-8192": "llama-3.3-70b-versatile",  # the seed system's default
    "llama3-8b-8192": "llama-3.1-8b-instant",
    "llama-3.1-70b-versatile": "llama-3.3-70b-versatile",
    "llama2-70b-4096": "llama-3.3-70b-versatile",
    "mixtral-8x7b-32768": "llama-3.3-70b-versatile",
    "gemma-7b-it": "llama-3.1-8b-instant",
}


def replacement_for_retired(model: str) -> str | None:
    """The model to use instead of `model`, or None when `model` is not retired."""
    return RETIRED_GROQ_MODELS.get(model.strip())
