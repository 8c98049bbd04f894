"""Builds a function's Lambda deployment package: the dependencies its code imports, and our packages.

Each function's dependencies are named in `FUNCTION_DEPENDENCIES` and pinned, once for both, in
pyproject.toml's `[project] dependencies` (never the `local` or `dev` extras); pip adds what they
need in turn. They are installed as wheels for the Lambda runtime (CPython 3.13 on arm64, Amazon
Linux 2023), at the versions installed in the environment running the build, so the package ships
what the tests ran with. Wheels are cached under the data folder: the first build downloads them,
later ones are offline. Before it is zipped, the package is checked against its code: every module
the entry module reaches must be in it, and so must every library those modules import. Of
botocore's and boto3's service descriptions (some 400 services, most of botocore's bytes) it keeps
those of the services the code makes clients for, read from the source too.

    python -m infra.build_package handler --zip build/lambda/handler.zip   # `make package`
    python -m infra.build_package forwarder --output-dir DIR               # `sam build` (infra/Makefile)
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra.imports import UnknownAwsClient, aws_clients_made, trace_imports
from ops.database import PROJECT_ROOT, data_dir

# Which of our top-level packages each function's code needs.
FUNCTION_PACKAGES: Mapping[str, tuple[str, ...]] = {
    "handler": ("handler", "shared", "tenant_secrets", "providers"),
    "forwarder": ("forwarder", "shared"),
}
# The distributions each function's code imports, by name; their versions are pyproject.toml's.
FUNCTION_DEPENDENCIES: Mapping[str, tuple[str, ...]] = {
    "handler": (
        "starlette",
        "mangum",
        "httpx",
        "asyncpg",
        "groq",
        "boto3",
        "cryptography",
        "aws-lambda-powertools",
    ),
    "forwarder": ("starlette", "mangum", "boto3"),
}
# The module whose `lambda_handler` the template names as each function's Handler.
FUNCTION_ENTRY_MODULES: Mapping[str, str] = {"handler": "handler.app", "forwarder": "forwarder.app"}
# Libraries imported only on a path that local runs take: the package leaves them out on purpose.
LOCAL_ONLY_IMPORTS: Mapping[str, Mapping[str, str]] = {
    "forwarder": {"httpx": "the development hand-off (HANDLER_URL); the Lambda hands off by invoke"},
}
# boto3 and what it needs: the Lambda runtime has its own copy, so sizes are also shown without it.
BOTO3 = "boto3"
# Where botocore and boto3 keep one folder per AWS service (models, endpoint rules, resources).
AWS_SERVICE_DATA = ("botocore/data", "boto3/data")
# botocore's endpoints of every service in every partition, read whole when it makes a client.
BOTOCORE_ENDPOINTS = "botocore/data/endpoints.json"
# The runtime the template declares (python3.13, arm64).
LAMBDA_PYTHON_VERSION = "3.13"
# Where the runtime unpacks the code.
LAMBDA_TASK_ROOT = "/var/task"
# Lambda refuses a function whose unzipped code is larger than this.
UNZIPPED_LIMIT_BYTES = 262_144_000
# Every zip entry gets this time, so the same inputs give a byte-identical zip (and CodeSha256).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Installed console scripts and caches are of no use inside a Lambda.
_DROPPED_TOP_LEVEL = ("bin",)


class BuildError(RuntimeError):
    """The package could not be built (pip failed, unknown function, package too big)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaTarget:
    """The interpreter and platform the wheels must fit: the python3.13 arm64 runtime."""

    python_version: str = LAMBDA_PYTHON_VERSION
    implementation: str = "cp"
    # Amazon Linux 2023 has glibc 2.34: every manylinux tag up to it runs there. pip does not widen
    # a manylinux_2_X platform to older tags by itself, so each is listed.
    platforms: tuple[str, ...] = (
        "manylinux2014_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux_2_28_aarch64",
        "manylinux_2_34_aarch64",
    )

    def pip_arguments(self) -> list[str]:
        arguments = ["--only-binary=:all:", "--python-version", self.python_version]
        arguments += ["--implementation", self.implementation]
        for tag in self.platforms:
            arguments += ["--platform", tag]
        return arguments


def this_machine_target() -> LambdaTarget:
    """Wheels for the interpreter running this, on this machine's architecture: a package built so
    holds what the Lambda's holds, and runs here (tests, benchmarks)."""
    machine = platform.machine()
    return LambdaTarget(
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        platforms=tuple(f"{tag}_{machine}" for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_28")),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRequest:
    function: str
    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    project_root: Path = PROJECT_ROOT
    wheel_cache: Path = field(default_factory=lambda: data_dir() / "lambda-wheels")
    target: LambdaTarget = LambdaTarget()
    # An interpreter of the runtime's version, to precompile bytecode; None skips it.
    bytecode_python: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    function: str
    path: Path
    unzipped_bytes: int
    boto3_bytes: int  # of `unzipped_bytes`: boto3 and the distributions it needs
    zipped_bytes: int | None  # None when the package was left as a folder (for `sam build`)
    file_count: int
    bytecode_compiled: bool


def runtime_dependencies(pyproject_text: str) -> tuple[str, ...]:
    """The `[project] dependencies` of a pyproject.toml: what the Lambda carries, nothing more."""
    project = tomllib.loads(pyproject_text).get("project", {})
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise BuildError("pyproject.toml: [project] dependencies must be a list of strings")
    return tuple(dependencies)


def function_requirements(pyproject_text: str, function: str) -> tuple[str, ...]:
    """The pinned requirements of `function`'s dependencies, as `[project] dependencies` spells them."""
    pinned = {_normalize(_requirement_name(r)): r for r in runtime_dependencies(pyproject_text)}
    names = FUNCTION_DEPENDENCIES.get(function)
    if names is None:
        raise BuildError(f"unknown function {function!r}: expected one of {sorted(FUNCTION_DEPENDENCIES)}")
    missing = [name for name in names if _normalize(name) not in pinned]
    if missing:
        raise BuildError(
            f"{function} needs {', '.join(missing)}, not in pyproject.toml's [project] dependencies"
        )
    return tuple(pinned[_normalize(name)] for name in names)


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return match.group() if match else requirement


def project_name(pyproject_text: str) -> str:
    name = tomllib.loads(pyproject_text).get("project", {}).get("name", "")
    return str(name)


def environment_pins(installed: Iterable[tuple[str, str]], *, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """`name==version` for each installed distribution, to constrain the Lambda's wheels to them."""
    excluded = {_normalize(name) for name in exclude}
    pins = {_normalize(name): version for name, version in installed if _normalize(name) not in excluded}
    return tuple(f"{name}=={version}" for name, version in sorted(pins.items()))


def installed_distributions() -> list[tuple[str, str]]:
    found = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.append((name, dist.version))
    return found


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def find_bytecode_python(version: str = LAMBDA_PYTHON_VERSION) -> str | None:
    """An interpreter of the runtime's Python version (bytecode is version-specific), if installed."""
    if sys.version_info[:2] == tuple(int(p) for p in version.split(".")):
        return sys.executable
    pyenv_root = Path(os.environ.get("PYENV_ROOT", "") or Path.home() / ".pyenv")
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}")),
    ]
    for candidate in candidates:
        # A pyenv shim exists even where that version is not selected: ask the interpreter itself.
        if candidate is not None and _reports_version(str(candidate), version):
            return str(candidate)
    return None


def _reports_version(python: str, version: str) -> bool:
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        completed = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return completed.returncode == 0 and completed.stdout.strip() == version


def build_folder(request: BuildRequest, destination: Path) -> BuildResult:
    """Fill `destination` (empty or absent) with the dependencies and the function's packages."""
    packages = FUNCTION_PACKAGES.get(request.function)
    if packages is None:
        raise BuildError(
            f"unknown function {request.function!r}: expected one of {sorted(FUNCTION_PACKAGES)}"
        )
    destination.mkdir(parents=True, exist_ok=True)
    install_dependencies(request, destination)
    for top_level in _DROPPED_TOP_LEVEL:
        shutil.rmtree(destination / top_level, ignore_errors=True)
    for package in packages:
        copy_package(request.project_root / package, destination / package)
    check_imports(request.function, request.project_root, destination)
    keep_aws_services(destination, aws_services(request.function, request.project_root))
    compiled = False
    if request.bytecode_python is not None:
        compile_bytecode(request.bytecode_python, destination)
        compiled = True
    unzipped, count = folder_size(destination)
    if unzipped > UNZIPPED_LIMIT_BYTES:
        raise BuildError(
            f"{request.function}: {unzipped} bytes unzipped, over Lambda's limit of {UNZIPPED_LIMIT_BYTES}"
        )
    return BuildResult(
        function=request.function,
        path=destination,
        unzipped_bytes=unzipped,
        boto3_bytes=sum(distribution_sizes(destination, requirements_closure(destination, BOTO3)).values()),
        zipped_bytes=None,
        file_count=count,
        bytecode_compiled=compiled,
    )


def build_zip(request: BuildRequest, zip_path: Path) -> BuildResult:
    """Build in a temporary folder and write a reproducible zip of it to `zip_path`."""
    with tempfile.TemporaryDirectory(prefix=f"lambda-{request.function}-") as scratch:
        folder = build_folder(request, Path(scratch) / "package")
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        write_zip(folder.path, zip_path)
    return BuildResult(
        function=request.function,
        path=zip_path,
        unzipped_bytes=folder.unzipped_bytes,
        boto3_bytes=folder.boto3_bytes,
        zipped_bytes=zip_path.stat().st_size,
        file_count=folder.file_count,
        bytecode_compiled=folder.bytecode_compiled,
    )


def check_imports(function: str, project_root: Path, folder: Path) -> None:
    """Refuse a package that lacks a module or a library its entry module's code imports."""
    trace = trace_imports(FUNCTION_ENTRY_MODULES[function], project_root)
    shipped = set(FUNCTION_PACKAGES[function])
    problems = [
        f"{package} (not in FUNCTION_PACKAGES[{function!r}])"
        for package in sorted(trace.packages() - shipped)
    ]
    local_only = LOCAL_ONLY_IMPORTS.get(function, {})
    for name, users in sorted(trace.third_party().items()):
        if name not in local_only and not carries(folder, name):
            problems.append(f"{name} (imported by {', '.join(sorted(users))})")
    at_import = trace_imports(FUNCTION_ENTRY_MODULES[function], project_root, at_import=True)
    for name, users in sorted(at_import.third_party().items()):
        if name in local_only and not carries(folder, name):
            problems.append(f"{name}, local only, yet imported at start-up by {', '.join(sorted(users))}")
    if problems:
        raise BuildError(f"the {function} package lacks what its code imports: {'; '.join(problems)}")


def aws_services(function: str, project_root: Path) -> frozenset[str]:
    """The AWS services `function`'s code makes boto3 clients for."""
    trace = trace_imports(FUNCTION_ENTRY_MODULES[function], project_root)
    try:
        return aws_clients_made(trace.modules, project_root)
    except UnknownAwsClient as error:
        raise BuildError(f"the {function} package cannot tell which AWS services it needs: {error}") from None


def keep_aws_services(folder: Path, services: Iterable[str]) -> None:
    """Remove the service folders of botocore's and boto3's data except those of `services`, and
    the other services' entries from botocore's endpoints file.

    botocore lists every service folder when it makes a client (a stat per file: some 20 ms of a
    cold start) and reads the endpoints of every service (1.2 MB of JSON: another 20 ms); the
    descriptions take most of its bytes. Its other shared files (partitions, retry rules,
    defaults) and each partition's own facts stay as they are."""
    kept = set(services)
    for data in AWS_SERVICE_DATA:
        if not (folder / data).is_dir():
            continue
        for service in (folder / data).iterdir():
            if service.is_dir() and service.name not in kept:
                shutil.rmtree(service)
    endpoints = folder / BOTOCORE_ENDPOINTS
    if endpoints.is_file():
        # The file names a service by its endpoint prefix, which its description gives.
        prefixes = kept | _endpoint_prefixes(endpoints.parent, kept)
        table = json.loads(endpoints.read_text())
        for partition in table.get("partitions", []):
            services_of = partition.get("services", {})
            partition["services"] = {name: entry for name, entry in services_of.items() if name in prefixes}
        endpoints.write_text(json.dumps(table, separators=(",", ":"), sort_keys=True))


def _endpoint_prefixes(data: Path, services: Iterable[str]) -> set[str]:
    prefixes = set()
    for service in services:
        for description in (data / service).glob("*/service-2.json*"):
            raw = description.read_bytes()
            text = gzip.decompress(raw) if description.suffix == ".gz" else raw
            prefix = json.loads(text).get("metadata", {}).get("endpointPrefix")
            if isinstance(prefix, str):
                prefixes.add(prefix)
    return prefixes


def carries(folder: Path, top_level: str) -> bool:
    """Does the package folder hold an importable module or package named `top_level`?"""
    if (folder / top_level).is_dir() or (folder / f"{top_level}.py").is_file():
        return True
    return any(folder.glob(f"{top_level}.*.so")) or (folder / f"{top_level}.so").is_file()


def requirements_closure(folder: Path, name: str) -> set[str]:
    """`name` and every distribution it needs, by the metadata of what pip installed in `folder`."""
    requires = {_normalize(dist): needs for dist, needs in _installed_requirements(folder).items()}
    closure: set[str] = set()
    pending = [_normalize(name)]
    while pending:
        current = pending.pop()
        if current in closure or current not in requires:
            continue
        closure.add(current)
        pending.extend(requires[current])
    return closure


def _installed_requirements(folder: Path) -> dict[str, list[str]]:
    """{distribution: the names it requires}; requirements of an optional extra do not count."""
    found = {}
    for metadata in folder.glob("*.dist-info/METADATA"):
        text = metadata.read_text(errors="replace")
        name = re.search(r"^Name: *(\S+)", text, re.MULTILINE)
        if name is None:
            continue
        needs = [
            _normalize(_requirement_name(line))
            for line in re.findall(r"^Requires-Dist: *(.+)$", text, re.MULTILINE)
            if "extra ==" not in line
        ]
        found[name.group(1)] = needs
    return found


def distribution_sizes(folder: Path, names: Iterable[str]) -> dict[str, int]:
    """Bytes each distribution in `names` takes in `folder`: its recorded files and their bytecode."""
    wanted = {_normalize(name) for name in names}
    sizes = {}
    for record in folder.glob("*.dist-info/RECORD"):
        name = _normalize(record.parent.name.split("-")[0])
        if name not in wanted:
            continue
        files: set[Path] = set()
        for line in record.read_text().splitlines():
            relative = line.split(",")[0]
            if not relative or relative.startswith(".."):
                continue
            path = folder / relative
            files.add(path)
            if path.suffix == ".py":  # compiled after pip ran, so not in the record
                files.update(path.parent.glob(f"__pycache__/{path.stem}.*.pyc"))
        sizes[name] = sum(path.stat().st_size for path in files if path.is_file())
    return sizes


def install_dependencies(request: BuildRequest, destination: Path) -> None:
    """Install from the wheel cache; download into it first when something is missing."""
    request.wheel_cache.mkdir(parents=True, exist_ok=True)
    # `sam build` builds both functions at once: one of them fills the cache, the other waits.
    with _locked(request.wheel_cache / ".lock"), tempfile.TemporaryDirectory(prefix="lambda-pip-") as scratch:
        constraints_file = Path(scratch) / "constraints.txt"
        constraints_file.write_text("".join(line + "\n" for line in request.constraints))
        common = [*request.target.pip_arguments(), "--constraint", str(constraints_file)]
        install = [
            "install",
            "--no-index",
            "--find-links",
            str(request.wheel_cache),
            "--target",
            str(destination),
            "--no-compile",
            "--no-user",
            *common,
            *request.requirements,
        ]
        if _pip(install).returncode == 0:
            return
        download = ["download", "--dest", str(request.wheel_cache), *common, *request.requirements]
        _check(_pip(download), "downloading the Lambda's wheels")
        _check(_pip(install), "installing the Lambda's wheels")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pip(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _check(completed: subprocess.CompletedProcess[str], doing: str) -> None:
    if completed.returncode != 0:
        # pip's own output names the requirement it could not satisfy.
        detail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise BuildError(f"pip failed while {doing}:\n{detail}")


def copy_package(source: Path, destination: Path) -> None:
    if not (source / "__init__.py").is_file():
        raise BuildError(f"{source} is not a Python package")
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def compile_bytecode(python: str, folder: Path) -> None:
    """Precompile for the runtime: its code folder is read-only, so it would recompile on every cold start.

    `unchecked-hash` bytecode stays valid whatever file times the zip gives the sources; paths are
    recorded as the runtime sees them (/var/task); a fixed hash seed makes the output reproducible.
    """
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(folder), "-p", LAMBDA_TASK_ROOT, str(folder)]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if completed.returncode != 0:
        raise BuildError(f"compiling bytecode failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")


def folder_size(folder: Path) -> tuple[int, int]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return sum(path.stat().st_size for path in files), len(files)


def write_zip(folder: Path, zip_path: Path) -> None:
    """Zip `folder`'s files in sorted order with fixed times and modes: same inputs, same bytes."""
    partial = zip_path.with_suffix(zip_path.suffix + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(partial, zip_path)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def describe(result: BuildResult) -> str:
    parts = [f"{result.function}: {result.path}"]
    if result.zipped_bytes is not None:
        parts.append(f"{_megabytes(result.zipped_bytes)} zipped")
    parts.append(f"{_megabytes(result.unzipped_bytes)} unzipped (Lambda's limit: 250 MiB)")
    parts.append(f"{_megabytes(result.unzipped_bytes - result.boto3_bytes)} unzipped beyond boto3")
    parts.append(f"{result.file_count} files")
    parts.append("bytecode precompiled" if result.bytecode_compiled else "bytecode not precompiled")
    return ", ".join(parts)


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB"


def request_for(
    function: str, *, project_root: Path = PROJECT_ROOT, compile_bytecode: bool = True
) -> BuildRequest:
    """The build of `function` as `make package` and `sam build` run it."""
    pyproject = (project_root / "pyproject.toml").read_text()
    pins = environment_pins(installed_distributions(), exclude=[project_name(pyproject)])
    return BuildRequest(
        function=function,
        requirements=function_requirements(pyproject, function),
        constraints=pins,
        project_root=project_root,
        bytecode_python=find_bytecode_python() if compile_bytecode else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build_package", description=__doc__.splitlines()[0]
    )
    parser.add_argument("function", choices=sorted(FUNCTION_PACKAGES))
    output = parser.add_mutually_exclusive_group(required=True)
    output.add_argument("--zip", type=Path, help="write a deployment zip here")
    output.add_argument("--output-dir", type=Path, help="fill this folder (sam build's ARTIFACTS_DIR)")
    parser.add_argument("--no-bytecode", action="store_true", help="do not precompile .pyc files")
    arguments = parser.parse_args(argv)
    request = request_for(arguments.function, compile_bytecode=not arguments.no_bytecode)
    if not arguments.no_bytecode and request.bytecode_python is None:
        sys.stderr.write(
            f"warning: no python{LAMBDA_PYTHON_VERSION} found: the package works, but every cold start"
            " compiles its bytecode\n"
        )
    try:
        if arguments.zip is not None:
            result = build_zip(request, arguments.zip)
        else:
            result = build_folder(request, arguments.output_dir)
    except BuildError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    sys.stdout.write(describe(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
