"""The baseline forwarder: the same signature check and the same boto3 invoke, and nothing else.

uvicorn bench._minimal_forwarder:app   (with META_APP_SECRET and HANDLER_FUNCTION_NAME set)
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.transport import lambda_client
from shared.signature import SignatureCheck, check_signature

SECRETS = tuple(os.environ["META_APP_SECRET"].split(","))
FUNCTION_NAME = os.environ["HANDLER_FUNCTION_NAME"]
THREAD_COUNT = int(os.environ.get("HANDOFF_CONCURRENCY", "32"))  # the same pool as the forwarder's
CLIENT = lambda_client(timeout=3.0, pool_size=THREAD_COUNT)
THREADS = ThreadPoolExecutor(THREAD_COUNT)


def invoke(body: bytes) -> int:
    response = CLIENT.invoke(FunctionName=FUNCTION_NAME, InvocationType="Event", Payload=body)
    response["Payload"].read()
    return response["StatusCode"]


async def webhook(request: Request) -> Response:
    body = await request.body()
    if check_signature(body, request.headers.get("x-hub-signature-256"), SECRETS) is not SignatureCheck.VALID:
        return Response(status_code=401)
    status = await asyncio.get_running_loop().run_in_executor(THREADS, invoke, body)
    return Response(status_code=200 if status == 202 else 503)


async def health(request: Request) -> Response:
    return Response("ok")


app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"]), Route("/health", health)])
