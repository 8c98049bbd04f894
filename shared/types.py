"""Dependency-free type aliases and protocols every module can import without cycles."""

from __future__ import annotations

from typing import Protocol


class LambdaContext(Protocol):
    """The parts of AWS Lambda's context object our code reads (the real runtime's, or a stand-in's).

    The same attribute names and types as `mangum.types.LambdaContext`, minus the mobile-only ones.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...
