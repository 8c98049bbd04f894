"""Lambda events for handler tests: the forwarder's envelope and the HTTP shapes Mangum accepts."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from shared.envelope import Envelope
from shared.signature import sign
from standins.meta import BusinessNumber
from tests.factories import SeededTenant

APP_SECRET = "test-app-secret"


def business_of(tenant: SeededTenant) -> BusinessNumber:
    return BusinessNumber(
        phone_number_id=tenant.phone_number_id,
        display_phone_number="1555" + tenant.phone_number_id[-7:],
        waba_id="waba-" + tenant.phone_number_id,
    )


def envelope_event(payload: object) -> dict[str, Any]:
    """What the forwarder hands to the handler for one signed Meta payload."""
    body = json.dumps(payload, separators=(",", ":"))
    return Envelope(body=body, signature=sign(APP_SECRET, body.encode()), received_at=time.time()).to_dict()


def function_url_event(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    """A Lambda Function URL request (payload format 2.0), as AWS delivers it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "abc.lambda-url.eu-west-1.on.aws", **(headers or {})},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795600800000,
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def rest_api_event(
    method: str, path: str, *, body: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway REST API (payload format 1.0) request."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "api.example.com", "Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": "/prod" + path,
            "stage": "prod",
            "requestId": "req-2",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }
