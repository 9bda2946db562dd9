"""The `docstrings` source: docstrings read with `ast` from a package tree, never imported."""

from __future__ import annotations

import sys
from pathlib import Path

from textrepair.config import CorpusConfig
from textrepair.data.corpus import BUILTINS, discover, read_documents, source_version
from textrepair.data.docstrings import package_docstrings, python_files, strip_doctests

PACKAGE = {
    "__init__.py": '"""A tiny package for the docstring reader."""\n',
    "core.py": '''"""Core helpers: the module docstring.

Usage::

    >>> add(1, 2)
    3

Plain prose after the example stays.
"""

raise RuntimeError("importing this module must never happen")


class Greeter:
    """Greets people politely."""

    def greet(self, name):
        """Return a greeting for name."""
        return "hello " + name


if True:
    def helper():
        """First helper."""
else:
    def helper():
        """Second helper, same name."""


async def fetch():
    """Fetch something later."""
''',
    "broken.py": "def oops(:\n    '''never parsed'''\n",
    "nodoc.py": "x = 1\n",
    "tests/test_core.py": '"""Tests are not prose for readers."""\n',
}


def write_package(root: Path) -> Path:
    for relative, source in PACKAGE.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root / "pkg"


def read_package(root: Path, max_docs: int = 0) -> list:
    package = write_package(root)
    return list(
        package_docstrings(root, python_files(package), path=str(package), max_docs=max_docs)
    )


def test_module_class_and_function_docstrings_are_found(tmp_path):
    docs = read_package(tmp_path)
    texts = {d.record: d.text for d in docs if d.read_error is None}
    assert texts == {
        "pkg": "A tiny package for the docstring reader.",
        "pkg.core": "Core helpers: the module docstring.\n\nUsage::\n\n\n"
        "Plain prose after the example stays.",
        "pkg.core:Greeter": "Greets people politely.",
        "pkg.core:Greeter.greet": "Return a greeting for name.",
        "pkg.core:helper": "First helper.",
        "pkg.core:helper#2": "Second helper, same name.",
        "pkg.core:fetch": "Fetch something later.",
    }
    assert all(d.source == "docstrings" and d.path == str(tmp_path / "pkg") for d in docs)


def test_the_code_is_never_imported(tmp_path):
    docs = read_package(tmp_path)  # core.py raises at import time
    assert any(d.record == "pkg.core" for d in docs)
    assert "pkg" not in sys.modules and "pkg.core" not in sys.modules


def test_unparsable_files_are_reported_with_a_reason(tmp_path):
    errors = [(d.record, d.read_error, d.text) for d in read_package(tmp_path) if d.read_error]
    assert errors == [("pkg.broken", "unparsable_python", None)]


def test_tests_are_skipped_and_the_walk_is_sorted(tmp_path):
    files = python_files(write_package(tmp_path))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "pkg/__init__.py",
        "pkg/broken.py",
        "pkg/core.py",
        "pkg/nodoc.py",
    ]


def test_reading_is_deterministic(tmp_path):
    first = read_package(tmp_path / "a")
    second = read_package(tmp_path / "a")
    assert first == second


def test_the_cap_counts_docstrings_not_errors(tmp_path):
    docs = read_package(tmp_path, max_docs=3)
    assert [d.record for d in docs] == ["pkg", "pkg.broken", "pkg.core", "pkg.core:Greeter"]


def test_doctest_examples_are_cut_out():
    text = "Add numbers.\n\n>>> add(1,\n...     2)\n3\n\nThe end."
    assert strip_doctests(text) == "Add numbers.\n\n\nThe end."


def test_builtin_discovery_reads_stdlib_and_installed_packages():
    assert "docstrings" in BUILTINS
    config = CorpusConfig(builtin=["docstrings"], paths=[], max_docstrings_per_package=2)
    units = discover(config).files
    assert units and all(u.source == "docstrings" for u in units)
    assert [u.path for u in units] == sorted(u.path for u in units)
    json_unit = next(u for u in units if Path(u.path).name == "json")
    docs = list(read_documents(json_unit, config))
    assert [d.record for d in docs] == ["json", "json:dump"]
    assert source_version(json_unit).startswith("python 3.")
    dist = next(u for u in units if u.path.endswith(".dist-info") and "pyarrow" in u.path)
    assert source_version(dist).startswith("pyarrow ")
    assert discover(config).files == units  # same fingerprints on a second walk
