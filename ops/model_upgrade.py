"""The migration step that applies the Groq model catalogue to the database: the schema default
is the catalogue's default, and every stored retired model moves to its replacement (a retired
vision or speech-to-text model back to the deployment's default: Groq's replacement for an old
vision model is often a model that cannot see).

It runs after the SQL files on every `make migrate` (SQL cannot read the catalogue), changes
nothing the second time, and reports each row it changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from providers.groq_models import DEFAULT_CHAT_MODEL, RETIRED_MODELS, replacement_for_retired

logger = logging.getLogger("migrate")

_CURRENT_DEFAULT = """
SELECT pg_get_expr(d.adbin, d.adrelid)
FROM pg_attrdef AS d
JOIN pg_attribute AS a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'user_groq_config'::regclass AND a.attname = 'model'
"""

# One statement: each retired model and its replacement as two parallel arrays.
_REPLACE_RETIRED = """
UPDATE user_groq_config AS g
SET model = r.replacement, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS r(retired, replacement)
WHERE g.model = r.retired
RETURNING g.id, g.user_id, r.retired, r.replacement
"""

# NULL: the deployment's DEFAULT_VISION_MODEL / DEFAULT_TRANSCRIPTION_MODEL (migration 010).
_RESET_RETIRED_VISION_MODELS = """
UPDATE user_groq_config AS g
SET vision_model = NULL, updated_at = now()
FROM (SELECT id, vision_model FROM user_groq_config WHERE vision_model = ANY($1::text[])) AS old
WHERE g.id = old.id
RETURNING g.id, g.user_id, old.vision_model AS retired
"""
_RESET_RETIRED_TRANSCRIPTION_MODELS = """
UPDATE user_groq_config AS g
SET transcription_model = NULL, updated_at = now()
FROM (SELECT id, transcription_model FROM user_groq_config WHERE transcription_model = ANY($1::text[])) AS old
WHERE g.id = old.id
RETURNING g.id, g.user_id, old.transcription_model AS retired
"""
DEPLOYMENT_DEFAULT = "the deployment's default"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUpgrade:
    """One tenant's Groq config moved off a retired model."""

    config_id: UUID
    tenant_id: UUID | None
    retired: str
    replacement: str

    def describe(self) -> str:
        return f"user_groq_config {self.config_id} (tenant {self.tenant_id}): {self.retired} -> {self.replacement}"


async def upgrade_retired_models(conn: asyncpg.Connection) -> list[ModelUpgrade]:
    """Set the schema default and replace stored retired models; return the rows changed."""
    wanted_default = f"'{DEFAULT_CHAT_MODEL}'::text"
    if await conn.fetchval(_CURRENT_DEFAULT) != wanted_default:
        # A literal from our own catalogue, quoted by Postgres itself (no value from outside).
        quoted = await conn.fetchval("SELECT quote_literal($1::text)", DEFAULT_CHAT_MODEL)
        await conn.execute(f"ALTER TABLE user_groq_config ALTER COLUMN model SET DEFAULT {quoted}")
        logger.info("default Groq model set", extra={"model": DEFAULT_CHAT_MODEL})
    retired = [model.id for model in RETIRED_MODELS]
    replacements = [replacement_for_retired(model) or DEFAULT_CHAT_MODEL for model in retired]
    rows = await conn.fetch(_REPLACE_RETIRED, retired, replacements)
    upgrades = [
        ModelUpgrade(config_id=row["id"], tenant_id=row["user_id"], retired=row[2], replacement=row[3])
        for row in rows
    ]
    for statement in (_RESET_RETIRED_VISION_MODELS, _RESET_RETIRED_TRANSCRIPTION_MODELS):
        upgrades += [
            ModelUpgrade(
                config_id=row["id"],
                tenant_id=row["user_id"],
                retired=row["retired"],
                replacement=DEPLOYMENT_DEFAULT,
            )
            for row in await conn.fetch(statement, retired)
        ]
    for upgrade in upgrades:
        logger.info(
            "retired Groq model replaced",
            extra={
                "config": str(upgrade.config_id),
                "tenant": str(upgrade.tenant_id),
                "retired": upgrade.retired,
                "replacement": upgrade.replacement,
            },
        )
    return upgrades
