"""The house rules of DESIGN.md, checked rather than only written.

- ``lint-imports`` holds the layers (``relais`` → faces → ``hub`` → ``connectors`` → ``storage``),
  keeps botbuilder in ``bot/`` and the web framework out of ``hub/`` and below; each contract is
  shown to fail on a copy of the project with one forbidden import added.
- No import cycle among the project's modules (the graph that import-linter reads, type-checking
  imports aside, since they never run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("relais", "bot", "admin", "api", "manifest", "hub", "connectors", "storage")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-cache"]
    for contract in contracts:
        args += ["--contract", contract]
    # Only the folder under test is importable: the installed (editable) project must not answer.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_layers_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kept, 0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy_of_the_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("project")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "locales", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


# (contract, module that gains the import, the forbidden import, what the report names)
FORBIDDEN = [
    ("layers", "hub/errors.py", "import admin", "hub is not allowed to import admin"),
    ("layers", "storage/models.py", "import hub.errors", "storage is not allowed to import hub"),
    ("layers", "connectors/mail.py", "import hub.settings", "connectors is not allowed to import"),
    ("layers", "admin/render.py", "import bot", "admin is not allowed to import bot"),
    ("layers", "api/problems.py", "import relais.keys", "api is not allowed to import relais"),
    ("botbuilder", "admin/render.py", "import botbuilder.core", "admin.render -> botbuilder"),
    ("hub-web", "hub/errors.py", "import aiohttp", "hub.errors -> aiohttp"),
]


@pytest.mark.parametrize(("contract", "module", "statement", "reported"), FORBIDDEN)
def test_a_forbidden_import_breaks_its_contract(
    copy_of_the_project: Path, contract: str, module: str, statement: str, reported: str
) -> None:
    path = copy_of_the_project / module
    original = path.read_text("utf-8")
    try:
        # At the end of the module, where ruff's import sorting would not have put it: a
        # deliberate breach, as a hurried change would make it.
        path.write_text(original + f"\n{statement}  # noqa\n", "utf-8")
        result = _lint_imports(copy_of_the_project, contract)
    finally:
        path.write_text(original, "utf-8")
    assert result.returncode != 0, result.stdout
    assert reported in result.stdout, result.stdout


def test_the_copy_itself_keeps_every_contract(copy_of_the_project: Path) -> None:
    """So that the failures above come from the added import and nothing else."""
    result = _lint_imports(copy_of_the_project)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- cycles


def a_cycle(imports: Mapping[str, Iterable[str]]) -> list[str]:
    """One import cycle (its modules in order, the first repeated at the end), or []."""
    try:
        TopologicalSorter(imports).prepare()
    except CycleError as error:
        return list(error.args[1])
    return []


def test_the_cycle_finder_finds_a_cycle() -> None:
    cycle = a_cycle({"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []})
    assert sorted(set(cycle)) == ["a", "b", "c"]
    assert a_cycle({"a": ["b"], "b": []}) == []


def test_no_import_cycle_among_the_projects_modules() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=True)
    finally:
        sys.path.remove(str(ROOT))
    imports = {
        module: [m for m in graph.find_modules_directly_imported_by(module) if m in graph.modules]
        for module in graph.modules
        if module.split(".")[0] in PACKAGES
    }
    assert a_cycle(imports) == []
