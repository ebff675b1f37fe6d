"""lib/pyproject.toml declares exactly the libraries genlab imports, and takes genlab's version."""

import ast
import importlib
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="tomllib comes with Python 3.11")

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "lib" / "pyproject.toml").read_text())
# Colab brings its own TensorFlow, so it is never declared (keras, which genlab needs, is).
UNDECLARED = {"tensorflow"}


def imported_modules() -> dict[str, str]:
    """Top-level name of every module imported anywhere in genlab -> a file importing it."""
    found = {}
    for path in sorted((ROOT / "lib" / "genlab").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.name)
    return found


def third_party() -> dict[str, str]:
    return {module: where for module, where in imported_modules().items()
            if module not in sys.stdlib_module_names and module != "genlab"}


def declared() -> set[str]:
    return {canonicalize_name(Requirement(line).name)
            for line in PROJECT["project"]["dependencies"]}


def distributions(module: str) -> set[str]:
    """The installed distributions that provide an import name (sklearn -> scikit-learn)."""
    return {canonicalize_name(name) for name in packages_distributions().get(module, [])}


def test_every_library_genlab_imports_is_declared():
    missing = {}
    for module, where in third_party().items():
        if module in UNDECLARED:
            continue
        provided_by = distributions(module)
        assert provided_by, f"{module} (imported in {where}) is not installed: pip install -r " \
                            "requirements.txt"
        if not provided_by & declared():
            missing[module] = (where, sorted(provided_by))
    assert not missing, ("imported by genlab but not in lib/pyproject.toml's dependencies "
                         f"(module: (file, distribution)): {missing}")


def test_every_declared_dependency_is_imported_and_tensorflow_is_not_declared():
    provided = set().union(*(distributions(module) for module in third_party()))
    unused = declared() - provided
    assert not unused, f"declared in lib/pyproject.toml but never imported by genlab: {unused}"
    assert not declared() & {"tensorflow", "tensorflow-cpu"}, "Colab brings its own TensorFlow"


def test_the_version_is_written_once_in_genlab():
    assert "version" not in PROJECT["project"] and "version" in PROJECT["project"]["dynamic"]
    source = PROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, attribute = source.rpartition(".")
    assert module.split(".")[0] == "genlab", f"the version comes from {source}, not from genlab"
    Version(getattr(importlib.import_module(module), attribute))  # a valid version number


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            [spec] = requirement.specifier
            assert spec.operator == "==", f"{path.name}: {line!r} is not pinned exactly"
            found[canonicalize_name(requirement.name)] = spec.version
    return found


def test_the_lock_holds_every_direct_requirement_at_its_version():
    direct, lock = pins(ROOT / "requirements.in"), pins(ROOT / "requirements.txt")
    differ = {name: (version, lock.get(name)) for name, version in direct.items()
              if lock.get(name) != version}
    assert not differ, f"requirements.in vs requirements.txt (regenerate the lock): {differ}"
    assert declared() <= set(direct), "every library dependency is pinned in requirements.in"
