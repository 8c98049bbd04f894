"""What a Lambda function's code imports, read from its source: our modules it reaches, and the rest.

Starting at the function's entry module, every `import` is followed through our own packages (the
top-level folders of the project with an `__init__.py`), including imports inside functions, which
may run; `at_import=True` follows only those that run when the entry module is imported. Imports
under `if TYPE_CHECKING:` never run and are left out. Nothing is imported: the source is parsed,
so this works for a package built for another platform.

`aws_clients_made` reads, the same way, which AWS services the code makes boto3 clients for.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportTrace:
    """Our modules reached from an entry module, and each outside top-level name with its importers."""

    modules: frozenset[str]
    outside: Mapping[str, frozenset[str]]  # e.g. {"boto3": {"forwarder.transport", ...}}
    outside_modules: frozenset[str]  # the full names, e.g. {"boto3", "botocore.config", ...}

    def packages(self) -> frozenset[str]:
        """Our top-level packages the code reaches, e.g. {"forwarder", "shared"}."""
        return frozenset(module.split(".")[0] for module in self.modules)

    def third_party(self) -> Mapping[str, frozenset[str]]:
        """The outside names that are not in the standard library."""
        return {name: users for name, users in self.outside.items() if name not in sys.stdlib_module_names}

    def third_party_modules(self) -> frozenset[str]:
        """The full names of the outside modules that are not in the standard library."""
        return frozenset(m for m in self.outside_modules if m.split(".")[0] not in sys.stdlib_module_names)


def own_packages(project_root: Path) -> frozenset[str]:
    return frozenset(path.parent.name for path in project_root.glob("*/__init__.py"))


def trace_imports(entry_module: str, project_root: Path, *, at_import: bool = False) -> ImportTrace:
    """Follow every import from `entry_module` (e.g. "forwarder.app") through our packages.

    With `at_import`, only the imports that importing `entry_module` runs: none inside a function."""
    ours = own_packages(project_root)
    reached: set[str] = set()
    outside: dict[str, set[str]] = {}
    outside_modules: set[str] = set()
    pending = [entry_module]
    while pending:
        module = pending.pop()
        if module in reached:
            continue
        path = _source_of(module, project_root)
        if path is None:
            raise ImportError(f"{module} is imported but has no source under {project_root}")
        reached.add(module)
        for imported in _imports_of(module, path, project_root, at_import=at_import):
            top = imported.split(".")[0]
            if top in ours:
                pending.extend(_with_parents(imported))
            else:
                outside.setdefault(top, set()).add(module)
                outside_modules.add(imported)
    return ImportTrace(
        modules=frozenset(reached),
        outside={name: frozenset(users) for name, users in outside.items()},
        outside_modules=frozenset(outside_modules),
    )


def _source_of(module: str, project_root: Path) -> Path | None:
    base = project_root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    """`a.b.c` runs `a`, `a.b` and `a.b.c`."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def _imports_of(module: str, path: Path, project_root: Path, *, at_import: bool) -> Iterator[str]:
    """The absolute names `path` imports; `from package import name` names the submodule when there is one."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _running_nodes(tree, at_import=at_import):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            yield base
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if alias.name != "*" and _source_of(submodule, project_root) is not None:
                    yield submodule


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    anchor = ".".join(parts[: len(parts) - node.level + 1])
    return f"{anchor}.{node.module}" if node.module else anchor


def _running_nodes(tree: ast.AST, *, at_import: bool) -> Iterator[ast.AST]:
    """Every node except the bodies of `if TYPE_CHECKING:` (their `else:` runs), and with `at_import`
    of functions too (their decorators and default values run)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        elif at_import and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stack.extend([*node.decorator_list, node.args])
        elif at_import and isinstance(node, ast.Lambda):
            stack.append(node.args)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class UnknownAwsClient(ValueError):
    """A `client(...)` call whose service name is not written in the source."""


def aws_clients_made(modules: Iterable[str], project_root: Path) -> frozenset[str]:
    """The services `modules` make boto3 clients for: the literal name each `….client("s3", …)`
    call passes (or its `service_name=`). A name that is not a literal cannot be read from the
    source: UnknownAwsClient, so that nothing is left out of a package on a guess."""
    services: set[str] = set()
    for module in sorted(modules):
        path = _source_of(module, project_root)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "client"
            ):
                services.add(_service_name(node, module))
    return frozenset(services)


def _service_name(call: ast.Call, module: str) -> str:
    named = [keyword.value for keyword in call.keywords if keyword.arg == "service_name"]
    argument = call.args[0] if call.args else (named[0] if named else None)
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    raise UnknownAwsClient(f"{module}:{call.lineno} makes a client whose service is not a literal name")
