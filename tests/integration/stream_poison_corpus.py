"""A poison corpus: one of each kind of bad input that ingest and the stream must survive, mixed
with good input that must still arrive (issue 20).

`build_poison_corpus` writes two landing folders, one for `textrepair ingest` and one for
`textrepair stream`. It returns what should become of each item: the reason every bad item is
quarantined (or skipped) with, and the good items that must arrive. A bad item that does not end
up under its reason makes the test that uses this corpus fail.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MAX_FILE_BYTES = 64_000  # corpus.max_file_bytes of the poison corpus: small keeps it fast
HUGE_LINE_CHARS = 25_000  # over silver.max_line_bytes (20,000), under MAX_FILE_BYTES
STREAM_MAX_TEXT_CHARS = 10_000  # stream.max_text_chars the stream lines are built around
DEEP_JSON = "[" * 10_000 + "]" * 10_000  # past Python's recursion limit when parsed
LONE_SURROGATE_UTF8 = b"\xed\xa0\x80"  # U+D800 encoded as UTF-8 would encode it: not valid


def _sentence(topic: str) -> str:
    """A distinct, letter-rich sentence: no silver window rule or de-duplication removes it."""
    return f"The keeper of the {topic} walked along the river and counted every stone twice."


@dataclass
class PoisonCorpus:
    """Where the corpus lies and the fate of each of its items."""

    landing: Path  # ingest: corpus.paths
    stream_landing: Path  # the stream's landing folder
    # Ingest: (file name, record) of each document, good ones by their silver windows.
    good_documents: set[tuple[str, str]] = field(default_factory=set)
    bad_documents: dict[tuple[str, str], str] = field(default_factory=dict)  # -> quarantine rule
    skipped_files: dict[str, str] = field(default_factory=dict)  # file name -> skip reason
    fallback_decoded: set[str] = field(default_factory=set)  # cp1252 files: decoded, not bad
    # Stream: the ids that must be predicted once each, and the quarantine reasons of the rest.
    good_ids: set[str] = field(default_factory=set)
    bad_lines: Counter[str] = field(default_factory=Counter)
    stream_lines: int = 0  # lines the stream reads in all (good + bad)


def build_poison_corpus(root: Path) -> PoisonCorpus:
    corpus = PoisonCorpus(landing=root / "landing", stream_landing=root / "stream_landing")
    corpus.landing.mkdir(parents=True)
    corpus.stream_landing.mkdir(parents=True)
    _ingest_whole_files(corpus)
    _ingest_records(corpus)
    _ingest_escape(corpus, root / "outside")  # before the stream's file goes there too
    _stream_files(corpus)
    return corpus


# ----------------------------------------------------------------------------------- ingest
def _ingest_whole_files(corpus: PoisonCorpus) -> None:
    landing = corpus.landing
    (landing / "good.txt").write_text(_sentence("lighthouse"), encoding="utf-8")
    corpus.good_documents.add(("good.txt", ""))
    # Not UTF-8, but decodable by the declared fallback: it arrives, marked with its codec.
    (landing / "cp1252.txt").write_bytes(_sentence("café in Zürich").encode("cp1252"))
    corpus.good_documents.add(("cp1252.txt", ""))
    corpus.fallback_decoded.add("cp1252.txt")
    bad = {
        "binary.txt": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary"),
        "empty.txt": (b"", "empty_file"),
        "too_big.txt": (b"a " * MAX_FILE_BYTES, "file_too_large"),
        "huge_line.txt": (b"abcd" * (HUGE_LINE_CHARS // 4), "huge_line"),
    }
    for name, (data, reason) in bad.items():
        (landing / name).write_bytes(data)
        corpus.bad_documents[(name, "")] = reason


def _ingest_records(corpus: PoisonCorpus) -> None:
    """Files whose good records must arrive although a record beside them is bad."""
    landing = corpus.landing
    lines = [
        json.dumps({"text": _sentence("orchard")}).encode(),
        b'{"text": "a lone surrogate \\ud800 in an escape"}',
        DEEP_JSON.encode(),
        json.dumps({"text": _sentence("mill")}).encode(),
    ]
    (landing / "records.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    corpus.good_documents |= {("records.jsonl", "1"), ("records.jsonl", "4")}
    corpus.bad_documents[("records.jsonl", "2")] = "lone_surrogate"
    corpus.bad_documents[("records.jsonl", "3")] = "bad_json"

    rows = [_sentence("bakery").encode(), b"surrogate " + LONE_SURROGATE_UTF8 + b" in a cell"]
    rows.append(_sentence("harbour").encode())
    (landing / "rows.csv").write_bytes(b"text\n" + b"\n".join(rows) + b"\n")
    corpus.good_documents |= {("rows.csv", "0"), ("rows.csv", "2")}
    corpus.bad_documents[("rows.csv", "1")] = "lone_surrogate"

    cells = [_sentence("forge").encode(), b"surrogate " + LONE_SURROGATE_UTF8, b"\xff\xfe bytes"]
    cells.append(_sentence("quarry").encode())
    # A string column holding bytes that are not UTF-8, as a broken writer could leave it.
    text = pa.array(cells, pa.binary()).view(pa.string())
    pq.write_table(pa.table({"text": text}), landing / "cells.parquet")
    corpus.good_documents |= {("cells.parquet", "0"), ("cells.parquet", "3")}
    corpus.bad_documents[("cells.parquet", "1")] = "lone_surrogate"
    corpus.bad_documents[("cells.parquet", "2")] = "invalid_utf8"

    # Small on disk, over the limit once decompressed.
    inflated = pa.table({"text": [f"{i:04d}" + "a" * 1_000 for i in range(100)]})
    path = landing / "inflated.parquet"
    pq.write_table(inflated, path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < MAX_FILE_BYTES < inflated.nbytes
    corpus.bad_documents[("inflated.parquet", "")] = "file_too_large"


def _ingest_escape(corpus: PoisonCorpus, outside: Path) -> None:
    """A symlink in the landing folder pointing at a file elsewhere on the machine."""
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(_sentence("vault"), encoding="utf-8")
    (corpus.landing / "escape.txt").symlink_to(secret)
    corpus.skipped_files["escape.txt"] = "symlink_outside_folder"


# ----------------------------------------------------------------------------------- stream
def _stream_files(corpus: PoisonCorpus) -> None:
    files: dict[str, list[tuple[bytes, str]]] = {  # line, reason ('' for a good line)
        "good.jsonl": [(_record(f"s-good-{i}", _sentence(f"gate {i}")), "") for i in range(3)],
        "mixed.jsonl": [
            (_record("s-mixed-0", _sentence("tower")), ""),
            (DEEP_JSON.encode(), "too_deep"),
            (b'{"id": "s-\\ud800", "text": "a lone surrogate in the id"}', "bad_unicode"),
            (b'{"id": "s-sur", "text": "a lone surrogate \\udc00 in the text"}', "bad_unicode"),
            (b'{"id": "s-inf", "text": "an overflowing number", "w": 1e999}', "bad_number"),
            (b'{"id": ' + b"9" * 5_000 + b', "text": "a 5,000-digit id"}', "bad_number"),
            (b"[1, 2, 3]", "not_an_object"),
            (b'{"id": "s-cut", "text": "cut short', "bad_json"),
            (_record("s-mixed-1", _sentence("bridge")), ""),
        ],
        # One line of bytes that are not UTF-8 (and no line breaks, so Spark sees one line).
        "binary.jsonl": [(bytes(b for b in range(256) if b not in b"\r\n") * 4, "bad_encoding")],
        "empty.jsonl": [],  # no lines: nothing to predict or quarantine, and no failure
        "huge_line.jsonl": [(_record("s-huge", "x" * 1_000_000), "oversize_text")],
        "cp1252.jsonl": [
            (b'{"id": "s-enc", "text": "caf\xe9 au lait"}', "bad_encoding"),
            (_record("s-enc-ok", _sentence("well")), ""),
        ],
    }
    for name, lines in files.items():
        _write_lines(corpus, corpus.stream_landing / name, lines)
    # A link to a file elsewhere on the machine: its lines must be neither scored nor kept.
    secret = [
        (_record(f"s-secret-{i}", _sentence("vault")), "symlink_outside_landing") for i in (0, 1)
    ]
    target = corpus.landing.parent / "outside" / "secret.jsonl"
    _write_lines(corpus, target, secret)
    (corpus.stream_landing / "escape.jsonl").symlink_to(target)


def _write_lines(corpus: PoisonCorpus, path: Path, lines: list[tuple[bytes, str]]) -> None:
    """Write one line per (line, reason) and expect each as its reason says."""
    path.write_bytes(b"".join(line + b"\n" for line, _ in lines))
    for line, reason in lines:
        if reason:
            corpus.bad_lines[reason] += 1
        else:
            corpus.good_ids.add(json.loads(line)["id"])
    corpus.stream_lines += len(lines)


def _record(row_id: str, text: str) -> bytes:
    return json.dumps({"id": row_id, "text": text}).encode()
