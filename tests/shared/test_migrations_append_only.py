"""Migrations are append-only: a migration a database may already have applied is never edited
(`schema_migrations` records it by name, so an edit would never reach those databases). A change is
a new file; add its digest here in the same commit."""

from __future__ import annotations

import hashlib

from ops.migrate import discover_migrations

RELEASED = {
    "001_seed_tables": "aaac0ec3d399b0798c267da6e5339b9ca10ccdee840b60958ad02817b6e456b5",
    "002_product_columns": "95c3025007b2abb32839052768796c61204b9a0c878b0300d720f6eb09ed06c7",
    "003_claim_function": "40e13d36ad8d7811d3ea1a89a352b1a9418f5b94ae749aa1454e4dc8f949988f",
    "004_web_chat_keys": "ae2e959d76dfa75da748a3fa6afc500838044fcf7a4769a765deebdfd6eb9348",
    "005_row_level_security": "95434f7383608dd3768a72f42e162c380ad6e02a51c382b61aa41803383afa83",
    "006_tenant_roles": "f583bbb3724cdb98b8d63224e1a0fa1313dab2bbf67fa6f4fe6f9e11df5c28c2",
    "007_platform_2026": "31ac7dfcbde8c7121f482dfa962dee3f4cf263687fff37e6f119f7e6e09d9e0e",
    "008_send_retry": "e3bc3a7691893a210866437204c668694f4dbbd7b49297bf7394f56ecb7ffea3",
    "009_lease_takeover": "31b2bc0d0b0369988fae7c88f9b21f7ef936699bbd1dee477271c0ecbfb20f1a",
    "010_voice_notes_and_images": "bd89fd4706484fa50f7dab3bc6c0f591a003b5ccbc4f9625bb97482252ec313f",
    "011_human_takeover": "e9ce78ee33bbe54ef6842cada7eefc0c7331ae898cd5c82cf4212eac10bcc0c9",
}


def test_no_released_migration_was_edited() -> None:
    current = {m.version: hashlib.sha256(m.path.read_bytes()).hexdigest() for m in discover_migrations()}

    assert {version: current.get(version) for version in RELEASED} == RELEASED


def test_every_migration_is_pinned_in_order() -> None:
    versions = [m.version for m in discover_migrations()]

    assert versions == sorted(RELEASED) == sorted(versions)
