"""The `docstrings` source: docstrings of the standard library and installed distributions.

Packages are found and read with `ast`, never imported. One `SourceFile` per package (a top-level
stdlib module or package, or a distribution's metadata directory); one document per docstring.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import platform
import sysconfig
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from textrepair.data.documents import Document, ReadError, SourceFile, text_document

# Directories whose docstrings are not prose for readers: tests, caches, bundled site-packages.
SKIP_DIRS = frozenset(
    {"test", "tests", "testing", "idle_test", "__pycache__", "site-packages", "dist-packages"}
)


def docstring_units() -> list[SourceFile]:
    """One `SourceFile` per stdlib top-level module/package and per installed distribution.

    The fingerprint covers the version and every file's path, size and mtime (not the bytes:
    tens of thousands of files), so ingest re-reads a package only when it changed.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    units = [path for path in sorted(stdlib.iterdir()) if _is_stdlib_unit(path)]
    units += _distribution_dirs()
    return [_docstring_unit(path) for path in units]


def _is_stdlib_unit(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name in SKIP_DIRS or "-" in name:
        return False
    if path.is_dir():
        return (path / "__init__.py").is_file()
    return path.suffix == ".py"


def _distribution_dirs() -> list[Path]:
    """The metadata directory of each installed distribution (first on sys.path wins)."""
    found: dict[str, Path] = {}
    for dist in importlib.metadata.distributions():
        folder = getattr(dist, "_path", None)  # PathDistribution's metadata directory
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if isinstance(folder, Path) and name and name not in found:
            found[name] = folder
    return [found[name] for name in sorted(found)]


def docstring_package(path: Path) -> tuple[Path, list[Path], str]:
    """(import root, sorted .py files, version) of a docstring unit's path."""
    if path.suffix in (".dist-info", ".egg-info"):
        dist = importlib.metadata.PathDistribution(path)
        root = Path(dist.locate_file("")).resolve()
        files = sorted(
            {
                (root / entry).resolve()
                for entry in dist.files or []
                if entry.suffix == ".py" and not SKIP_DIRS.intersection(entry.parts)
            }
        )
        # RECORD may list scripts outside the import root (../../bin/...): not library prose.
        files = [f for f in files if f.is_relative_to(root)]
        return root, files, f"{dist.metadata['Name']} {dist.version}"
    return path.parent, python_files(path), f"python {platform.python_version()}"


def python_files(package: Path) -> list[Path]:
    """A module file, or the .py files under a package directory (sorted; tests skipped)."""
    if package.is_file():
        return [package]
    found = []
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        found += [Path(dirpath) / name for name in filenames if name.endswith(".py")]
    return sorted(found)


def _docstring_unit(path: Path) -> SourceFile:
    _, files, version = docstring_package(path)
    digest = hashlib.sha256(version.encode())
    size = mtime = 0
    for file in files:
        try:
            info = file.stat()
        except OSError:
            continue  # read_documents reports it as unreadable
        size += info.st_size
        mtime = max(mtime, info.st_mtime_ns)
        digest.update(f"\n{file}\t{info.st_size}\t{info.st_mtime_ns}".encode())
    return SourceFile("docstrings", os.fspath(path), size, mtime, digest.hexdigest())


def module_name(file: Path, root: Path) -> str:
    """Dotted module path of `file` under the import root (``pkg/__init__.py`` -> ``pkg``)."""
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def parse_docstrings(file: Path) -> list[tuple[str, str]] | ReadError:
    """(qualified name, docstring) of a module and its classes and functions, in source order.

    The file is parsed, never imported. ``""`` names the module's own docstring.
    """
    try:
        source = file.read_bytes()
    except OSError:
        return ReadError.unreadable_file
    try:
        with warnings.catch_warnings():  # invalid escapes in old code warn; not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=os.fspath(file))
        return list(_docstrings(tree, ""))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ReadError.unparsable_python


def _docstrings(node: ast.AST, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node, clean=True)
        if doc:
            yield prefix, doc
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _docstrings(child, f"{prefix}.{child.name}" if prefix else child.name)
        elif isinstance(child, ast.stmt):  # defs nested in if/try/with blocks
            yield from _docstrings(child, prefix)


def strip_doctests(text: str) -> str:
    """Drop doctest examples: each ``>>>`` line, its ``...`` continuations and its output."""
    kept: list[str] = []
    in_example = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
        elif in_example and not stripped:
            in_example = False
        if not in_example:
            kept.append(line)
    return "\n".join(kept).strip()


def package_docstrings(
    root: Path, files: list[Path], *, path: str, max_docs: int = 0
) -> Iterator[Document]:
    """One document per docstring of `files` (modules under `root`), at most `max_docs` (0: all).

    A file that cannot be read or parsed gives one document with its reason; it does not count
    towards the cap. Records repeated in a package (a def in both branches of an ``if``) get a
    ``#2``, ``#3`` suffix so every document keeps its own id.
    """
    seen: Counter[str] = Counter()
    kept = 0
    for file in files:
        module = module_name(file, root)
        parsed = parse_docstrings(file)
        if isinstance(parsed, ReadError):
            yield Document("docstrings", path, module, None, None, parsed.value)
            continue
        for qualname, doc in parsed:
            text = strip_doctests(doc)
            if not text:
                continue
            record = f"{module}:{qualname}" if qualname else module
            seen[record] += 1
            if seen[record] > 1:
                record = f"{record}#{seen[record]}"
            yield text_document("docstrings", path, record, text, "utf-8")
            kept += 1
            if max_docs and kept >= max_docs:
                return
