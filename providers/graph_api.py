"""The WhatsApp Cloud API (Graph) versions Meta serves, and when each stops being served.

From Meta's Graph API changelog (developers.facebook.com/docs/graph-api/changelog/versions) as of
2026-12-01: each version lives about two years; the newest ones have no end date yet ("TBD").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DEFAULT_BASE_URL = "https://graph.facebook.com"
# v25.0: released 2026-02-18, served until 2028-07-29. Override with GRAPH_API_VERSION, or per tenant.
DEFAULT_VERSION = "v25.0"
_FORMAT = re.compile(r"^v(\d+)\.0$")
# Where Graph's media URLs point (`lookaside.fbsbx.com`, Meta's media page): the tenant's token
# goes with the download, so only to Meta's own hosts.
MEDIA_HOST_SUFFIXES = ("fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net")
# The largest file WhatsApp lets a customer send (Meta's "Supported media types"): every audio
# type 16 MB, every image type 5 MB.
WHATSAPP_AUDIO_LIMIT_BYTES = 16 * 1024 * 1024
WHATSAPP_IMAGE_LIMIT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class GraphVersion:
    name: str
    released: date
    available_until: date | None  # None: Meta has not set it yet


VERSIONS: tuple[GraphVersion, ...] = (
    GraphVersion("v27.0", date(2026, 11, 4), None),
    GraphVersion("v26.0", date(2026, 7, 29), None),
    GraphVersion("v25.0", date(2026, 2, 18), date(2028, 7, 29)),
    GraphVersion("v24.0", date(2025, 10, 8), date(2028, 2, 18)),
    GraphVersion("v23.0", date(2025, 5, 29), date(2027, 10, 8)),
    GraphVersion("v22.0", date(2025, 1, 21), date(2027, 5, 20)),
    GraphVersion("v21.0", date(2024, 10, 2), date(2027, 1, 21)),
)
_BY_NAME = {version.name: version for version in VERSIONS}


def is_version_name(value: str) -> bool:
    """`vNN.0`, Meta's spelling of a Graph API version."""
    return _FORMAT.match(value) is not None


def known_version(name: str) -> GraphVersion | None:
    """The version if Meta serves it (as far as this release knows), else None (expired or unknown)."""
    return _BY_NAME.get(name)


def served_on(name: str, day: date) -> bool:
    version = known_version(name)
    return version is not None and (version.available_until is None or day < version.available_until)
