"""A "poison corpus": every kind of bad input next to good text, with what each item must become.

`write_poison_corpus` builds the landing folder in a temporary directory and returns what ingest
and clean must make of it: the good texts that must arrive in silver, and the quarantine reason of
every bad item. The size limit it assumes is `MAX_FILE_BYTES`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MAX_FILE_BYTES = 50_000
MAX_LINE_BYTES = 1_000
CESU_SURROGATE = b"\xed\xa0\x80"  # U+D800 written as if it were a character: not valid UTF-8

GOOD = [
    "A plain sentence that must arrive in silver.",
    "Jsonl lines that parse are documents of their own.",
    "Another jsonl line, after the poison ones.",
    "Comma separated rows are fine too.",
    "The last csv row still arrives.",
    "Parquet cells before the bad ones arrive.",
    "Parquet cells after the bad ones arrive as well.",
    "Un café très doux, déclaré en cp1252.",
    "A link that stays inside the folder is read.",
]


@dataclass
class Poison:
    folder: Path
    good: list[str] = field(default_factory=lambda: list(GOOD))
    # (file name, record) -> quarantine reason
    bad: dict[tuple[str, str], str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def write_poison_corpus(root: Path) -> Poison:
    folder = root / "landing"
    (folder / "sub").mkdir(parents=True)
    poison = Poison(folder)
    (folder / "good.txt").write_text(GOOD[0], encoding="utf-8")
    _jsonl(folder / "lines.jsonl", poison)
    _csv(folder / "rows.csv", poison)
    _parquet(folder, poison)
    (folder / "latin.txt").write_bytes(GOOD[7].encode("cp1252"))
    _whole_file_errors(folder, poison)
    _links(root, folder, poison)
    return poison


def _jsonl(path: Path, poison: Poison) -> None:
    lines = [
        f'{{"text": "{GOOD[1]}"}}'.encode(),
        b'{"text": "escaped lone surrogate \\ud800 here"}',
        b'{"text": "raw lone surrogate ' + CESU_SURROGATE + b' here"}',
        b"[" * 10_000 + b"]" * 10_000,  # RecursionError in the parser
        b'{"text": 1e999}',  # overflows to inf: not a string
        b'["not", "an", "object"]',
        f'{{"text": "{GOOD[2]}"}}'.encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    poison.bad.update(
        {
            (path.name, "2"): "lone_surrogate",
            (path.name, "3"): "lone_surrogate",
            (path.name, "4"): "bad_json",
            (path.name, "5"): "missing_text_field",
            (path.name, "6"): "missing_text_field",
        }
    )


def _csv(path: Path, poison: Poison) -> None:
    body = b"text\n" + GOOD[3].encode() + b"\nbad " + CESU_SURROGATE + b" row\n" + GOOD[4].encode()
    path.write_bytes(body + b"\n")
    poison.bad[(path.name, "1")] = "lone_surrogate"


def _parquet(folder: Path, poison: Poison) -> None:
    cells = [GOOD[5].encode(), b"a " + CESU_SURROGATE + b" b", b"bad byte \xff", GOOD[6].encode()]
    # .view skips UTF-8 validation: how a foreign writer's bad bytes look to us.
    pq.write_table(pa.table({"text": pa.array(cells).view(pa.string())}), folder / "cells.parquet")
    poison.bad[("cells.parquet", "1")] = "lone_surrogate"
    poison.bad[("cells.parquet", "2")] = "invalid_utf8"
    # A few kB on disk, over the limit once decompressed.
    inflated = pa.table({"text": ["x" * (MAX_FILE_BYTES * 4)]})
    pq.write_table(inflated, folder / "inflated.parquet", compression="zstd", use_dictionary=False)
    assert (folder / "inflated.parquet").stat().st_size < MAX_FILE_BYTES
    poison.bad[("inflated.parquet", "")] = "file_too_large"


def _whole_file_errors(folder: Path, poison: Poison) -> None:
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.md").write_bytes(b"")
    (folder / "huge_line.txt").write_text("word " * MAX_LINE_BYTES, encoding="utf-8")
    (folder / "oversize.txt").write_text("big " * MAX_FILE_BYTES, encoding="utf-8")
    poison.bad.update(
        {
            ("binary.txt", ""): "binary",
            ("empty.md", ""): "empty_file",
            ("huge_line.txt", ""): "huge_line",
            ("oversize.txt", ""): "file_too_large",
        }
    )


def _links(root: Path, folder: Path, poison: Poison) -> None:
    (root / "secret.txt").write_text("A file outside the folder that must not be read.")
    os.symlink(root / "secret.txt", folder / "outside.txt")
    poison.skipped[os.fspath(folder / "outside.txt")] = "symlink_outside_folder"
    (folder / "sub" / "target.md").write_text(GOOD[8], encoding="utf-8")
    os.symlink(folder / "sub" / "target.md", folder / "inside.md")  # same file: read once
