"""The layout's contract with DVC: each stage's deps name exactly the code the stage runs.

The code a stage runs is its module under textrepair/stages/ and every textrepair module that
module imports, directly or through others (function-level imports included). Settings come in as
DVC params, so config.py and the package markers are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
NOT_CODE_DEPS = {"src/textrepair/config.py"}
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (type hints run no code)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> set[Path]:
    found: set[Path] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("textrepair")
        ):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            # `from textrepair.data import tables` imports a module; `from x import name` does not.
            modules = [_module_file(n) for n in names] + [_module_file(node.module)]
            found.update(m for m in modules if m is not None)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("textrepair") and (m := _module_file(alias.name)):
                    found.add(m)
    return found


def code_closure(entry: Path) -> set[str]:
    """Source files `entry` runs: itself and every textrepair module it imports, transitively."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.relative_to(ROOT).as_posix() not in NOT_CODE_DEPS:
            todo.extend(_imports(path) - seen)
    files = {p.relative_to(ROOT).as_posix() for p in seen if p.name != "__init__.py"}
    return files - NOT_CODE_DEPS


def _source_deps(stage: dict) -> set[str]:
    return {d for d in stage.get("deps", []) if d.startswith("src/")}


def _covered(path: str, deps: set[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_name_exactly_the_code_it_runs(name: str) -> None:
    stage = STAGES[name]
    entry = SRC / "textrepair" / "stages" / f"{name}.py"
    assert entry.is_file(), f"stage {name}: its code belongs in {entry.relative_to(ROOT)}"
    runs = code_closure(entry)
    deps = _source_deps(stage)
    missing = sorted(path for path in runs if not _covered(path, deps))
    extra = sorted(dep for dep in deps if not any(_covered(path, {dep}) for path in runs))
    assert not missing, f"stage {name} runs code its deps do not name: {missing}"
    assert not extra, f"stage {name} names deps it does not run: {extra}"


def test_code_closure_follows_function_level_imports(tmp_path: Path) -> None:
    closure = code_closure(SRC / "textrepair" / "stages" / "train.py")
    # stages/train.py imports adopt.py inside run(): a change to it must rerun the stage.
    assert "src/textrepair/stages/adopt.py" in closure
    assert "src/textrepair/config.py" not in closure
