"""Parsing a request body as JSON, where hostile input gets a clean error and never a crash.

`json.loads` raises `RecursionError`, not `ValueError`, for deeply nested input (100,000 nested
arrays is a 200 KB body): every body we parse goes through `parse_json_body`.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import InvalidInput


class MalformedJson(InvalidInput):
    """The body is not UTF-8 JSON we can read; the message says which, never what it held."""


def parse_json_body(body: bytes | str) -> Any:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise MalformedJson("the body is not UTF-8") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise MalformedJson("the body's JSON is nested too deeply") from None
    except ValueError:
        raise MalformedJson("the body is not JSON") from None
