"""What the corpus readers produce: found files, documents, and the reasons either is missing.

Shared by the file readers (corpus.py) and the docstring reader (docstrings.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

SourceName = Literal["kjv", "pydoc", "docstrings", "landing"]

TEXT_SUFFIXES = frozenset({".txt", ".md"})


class ReadError(StrEnum):
    """Machine-readable reasons a `Document` carries instead of text."""

    binary = "binary"
    empty_file = "empty_file"
    file_too_large = "file_too_large"
    unreadable_file = "unreadable_file"
    bad_json = "bad_json"
    bad_csv = "bad_csv"
    missing_text_field = "missing_text_field"
    null_text = "null_text"
    lone_surrogate = "lone_surrogate"
    invalid_utf8 = "invalid_utf8"
    unparsable_python = "unparsable_python"


class SkipReason(StrEnum):
    """Why `discover` left a path found inside a configured directory out."""

    unsupported_extension = "unsupported_extension"
    hidden = "hidden"
    symlinked_directory = "symlinked_directory"
    symlink_outside_folder = "symlink_outside_folder"
    not_a_regular_file = "not_a_regular_file"
    unreadable_file = "unreadable_file"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One corpus file as found by `discover`."""

    source: SourceName
    path: str
    size: int
    mtime_ns: int
    sha256: str

    @property
    def format(self) -> str:
        """How `read_documents` reads it: a built-in's name, "text", "jsonl", "csv" or "parquet"."""
        if self.source != "landing":
            return self.source
        suffix = Path(self.path).suffix.lower()
        return "text" if suffix in TEXT_SUFFIXES else suffix.lstrip(".")


@dataclass(frozen=True, slots=True)
class Discovery:
    """The outcome of `discover`: files to read, and paths skipped inside directories."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) pairs; reason is a `SkipReason` value."""


@dataclass(frozen=True, slots=True)
class Document:
    """One unit of raw text for bronze, or the record of why there is none (``read_error``)."""

    source: SourceName
    path: str
    record: str
    text: str | None
    encoding: str | None
    read_error: str | None = None


def has_lone_surrogate(text: str) -> bool:
    """True if `text` cannot be UTF-8: it holds a lone surrogate (e.g. from JSON "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_document(source: SourceName, path: str, record: str, text: str, codec: str) -> Document:
    """A text document, or a ``lone_surrogate`` error: such text cannot be stored or hashed."""
    if has_lone_surrogate(text):
        return Document(source, path, record, None, codec, ReadError.lone_surrogate.value)
    return Document(source, path, record, text, codec)
