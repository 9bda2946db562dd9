"""SHA-256 of files' bytes, read in blocks (model weights and corpora do not fit in memory)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_BLOCK = 1 << 20


def sha256_files(paths: Iterable[str | Path]) -> str:
    """Hex SHA-256 of the files' bytes, concatenated in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of one file's bytes."""
    return sha256_files([path])
