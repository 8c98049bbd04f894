"""What a function's code imports, read from its source: our modules followed, everything else named."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.imports import UnknownAwsClient, aws_clients_made, trace_imports


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/main.py": (
                "from __future__ import annotations\n"
                "from typing import TYPE_CHECKING\n"
                "import json\n"
                "from app import helpers\n"
                "from .settings import Settings\n"
                "import starlette.routing\n"
                "if TYPE_CHECKING:\n"
                "    import types_boto3_lambda\n"
                "else:\n"
                "    import mangum\n"
                "def dev_only():\n"
                "    import httpx\n"
            ),
            "app/helpers.py": "from lib.util import x\n",
            "app/settings.py": "class Settings:\n    import boto3\n",
            "app/unused.py": "import asyncpg\n",
            "lib/__init__.py": "import botocore.config\n",
            "lib/util.py": "x = 1\n",
        },
    )


def test_our_modules_are_followed_from_the_entry_and_the_rest_is_named(project: Path) -> None:
    trace = trace_imports("app.main", project)

    assert trace.modules == {"app", "app.main", "app.helpers", "app.settings", "lib", "lib.util"}
    assert trace.packages() == {"app", "lib"}
    assert set(trace.third_party()) == {"starlette", "mangum", "httpx", "boto3", "botocore"}
    assert trace.third_party()["botocore"] == {"lib"}
    assert "json" in trace.outside and "json" not in trace.third_party()
    assert {"starlette.routing", "botocore.config"} <= trace.third_party_modules()


def test_type_checking_imports_never_count_and_modules_never_reached_are_not_read(project: Path) -> None:
    names = set(trace_imports("app.main", project).third_party())
    assert "types_boto3_lambda" not in names
    assert "asyncpg" not in names  # app.unused is in the package, but nothing imports it


def test_at_import_leaves_out_what_only_a_function_call_imports(project: Path) -> None:
    at_import = trace_imports("app.main", project, at_import=True)
    assert "httpx" not in at_import.third_party()
    assert "boto3" in at_import.third_party()  # a class body runs when the module is imported


def test_an_import_of_our_own_module_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"app/__init__.py": "", "app/main.py": "import app.missing\n"})
    with pytest.raises(ImportError, match="app.missing"):
        trace_imports("app.main", tmp_path)


def test_the_aws_clients_made_are_read_from_the_literal_service_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/a.py": "import boto3\ns3 = boto3.client('s3', region_name='x')\n",
            "app/b.py": "def kms(session):\n    return session.client(service_name='kms')\n",
        },
    )
    assert aws_clients_made(["app.a", "app.b"], tmp_path) == {"s3", "kms"}
    assert aws_clients_made(["app"], tmp_path) == frozenset()


def test_a_client_for_a_service_named_at_run_time_cannot_be_read(tmp_path: Path) -> None:
    write(tmp_path, {"app/__init__.py": "", "app/a.py": "def make(b, name):\n    return b.client(name)\n"})
    with pytest.raises(UnknownAwsClient, match="app.a:2"):
        aws_clients_made(["app.a"], tmp_path)
