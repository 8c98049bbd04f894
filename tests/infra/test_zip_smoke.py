"""Each Lambda zip, unpacked as the runtime unpacks it, imports every module its code reaches with
nothing else on sys.path, and makes a boto3 client for each AWS service its code names (and for
no other): the zip holds what its code imports, and the forwarder's holds nothing of the handler's
libraries.

The zips are built for this machine's interpreter and platform (the arm64 wheels of the real package
would not load here); what goes in them is decided by the same build, so only the wheels' platform
differs from `make package`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.build_package import (
    FUNCTION_ENTRY_MODULES,
    LOCAL_ONLY_IMPORTS,
    aws_services,
    build_zip,
    request_for,
    this_machine_target,
)
from infra.imports import trace_imports
from ops.database import PROJECT_ROOT

# What only the handler needs: never in the forwarder's zip, never imported by it.
HANDLER_ONLY = ("asyncpg", "groq", "cryptography", "httpx", "httpcore", "pydantic", "pydantic_core", "cffi")

# Runs in `python -I -S`: no site-packages, only the unpacked zip (argv[1]) and the standard library.
IMPORT_FROM_THE_ZIP = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
entry = importlib.import_module(sys.argv[3])
assert callable(entry.lambda_handler)
import boto3, botocore.exceptions
endpoints = {}
for service in json.loads(sys.argv[4]):
    endpoints[service] = where_clients_go(service)
try:
    boto3.session.Session().client("dynamodb", region_name="us-east-1")
except botocore.exceptions.UnknownServiceError:
    pass
else:
    raise AssertionError("the zip describes services its code never makes a client for")
print(json.dumps({"modules": sorted({name.split(".")[0] for name in sys.modules}), "endpoints": endpoints}))
"""
# Where a client of `service` sends its calls, region by region (partitions aws, aws-cn, aws-us-gov).
WHERE_CLIENTS_GO = """
def where_clients_go(service):
    import boto3
    session = boto3.session.Session()
    found = {"regions": session.get_available_regions(service)}
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        client = session.client(service, region_name=region)
        found[region] = client.meta.endpoint_url
        client.close()
    return found
"""


def where_the_full_botocore_sends(services: list[str]) -> dict[str, Any]:
    """WHERE_CLIENTS_GO for `services`, run by the installed botocore, with the zip's environment."""
    script = WHERE_CLIENTS_GO + "import json, sys\n"
    script += "print(json.dumps({s: where_clients_go(s) for s in json.loads(sys.argv[1])}))\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, json.dumps(services)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1"},
    )
    return dict(json.loads(done.stdout))


def modules_to_import(function: str) -> list[str]:
    """Every module of ours the entry module reaches and every outside module they import (lazily
    too), except a local-only library and those of ours importing one."""
    trace = trace_imports(FUNCTION_ENTRY_MODULES[function], PROJECT_ROOT)
    local_only = set(LOCAL_ONLY_IMPORTS.get(function, {}))
    local_users = {user for name in local_only for user in trace.outside.get(name, ())}
    outside = {name for name in trace.third_party_modules() if name.split(".")[0] not in local_only}
    return sorted((trace.modules - local_users) | outside)


@pytest.fixture(scope="module", params=["forwarder", "handler"])
def unpacked_zip(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    function: str = request.param
    build = replace(request_for(function, compile_bytecode=False), target=this_machine_target())
    folder = tmp_path_factory.mktemp(function)
    result = build_zip(build, folder / f"{function}.zip")
    with zipfile.ZipFile(result.path) as archive:
        archive.extractall(folder / "task")
    return function, folder / "task"


def test_the_zip_alone_imports_every_module_its_code_reaches(unpacked_zip: tuple[str, Path]) -> None:
    function, task = unpacked_zip
    modules = modules_to_import(function)
    assert FUNCTION_ENTRY_MODULES[function] in modules

    assert aws_services(function, PROJECT_ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            WHERE_CLIENTS_GO + IMPORT_FROM_THE_ZIP,
            str(task),
            json.dumps(modules),
            FUNCTION_ENTRY_MODULES[function],
            json.dumps(sorted(aws_services(function, PROJECT_ROOT))),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1"},
    )

    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = set(ran["modules"])
    # The zip keeps botocore's endpoints of its own services as they are: the same as botocore's.
    assert ran["endpoints"] == where_the_full_botocore_sends(sorted(ran["endpoints"]))
    if function == "forwarder":
        assert {"starlette", "mangum", "boto3", "botocore"} <= loaded
        assert not loaded & set(HANDLER_ONLY)
    else:
        assert {"starlette", "mangum", "boto3", "asyncpg", "groq", "httpx", "cryptography"} <= loaded


def test_the_forwarder_zip_carries_none_of_the_handlers_libraries(unpacked_zip: tuple[str, Path]) -> None:
    function, task = unpacked_zip
    top_levels = {path.name.split("-")[0].split(".")[0] for path in task.iterdir()}
    if function == "forwarder":
        assert not top_levels & {*HANDLER_ONLY, "handler", "tenant_secrets", "providers"}
    else:
        assert {
            "handler",
            "shared",
            "tenant_secrets",
            "providers",
            "asyncpg",
            "groq",
            "cryptography",
        } <= top_levels
        assert "forwarder" not in top_levels
