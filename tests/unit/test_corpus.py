"""Corpus discovery and reading: built-ins, user formats, and every bad-input case."""

from __future__ import annotations

import codecs
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textrepair.config import CorpusConfig
from textrepair.data.corpus import (
    Discovery,
    Document,
    SourceFile,
    decode_bytes,
    discover,
    is_binary,
    read_documents,
)
from textrepair.hashing import sha256_file


def cfg(**overrides) -> CorpusConfig:
    return CorpusConfig(**{"builtin": [], "paths": [], **overrides})


def user_file(path: Path) -> SourceFile:
    """The SourceFile discover would build for one user file."""
    found = discover(cfg(paths=[str(path)]))
    assert len(found.files) == 1, found
    return found.files[0]


def read(path: Path, **overrides) -> list[Document]:
    return list(read_documents(user_file(path), cfg(**overrides)))


def only(docs: list[Document]) -> Document:
    assert len(docs) == 1, docs
    return docs[0]


# ------------------------------------------------------------------------------- built-ins


@pytest.fixture(scope="module")
def builtins() -> Discovery:
    return discover(CorpusConfig(builtin=["kjv", "pydoc"], paths=[]))


def test_builtins_are_found(builtins):
    assert sorted(f.source for f in builtins.files) == ["kjv", "pydoc"]
    assert builtins.skipped == []
    for f in builtins.files:
        assert Path(f.path).is_file()
        assert f.size == Path(f.path).stat().st_size > 0
        assert len(f.sha256) == 64


def test_kjv_yields_verses(builtins):
    kjv = next(f for f in builtins.files if f.source == "kjv")
    assert kjv.path.endswith(os.path.join("bible", "data", "kjv.jsonl"))
    docs = list(read_documents(kjv, CorpusConfig()))
    assert len(docs) > 30000
    assert all(d.read_error is None and d.text for d in docs)
    first = docs[0]
    assert first.record == "Genesis 1:1"
    assert first.text == "In the beginning God created the heaven and the earth."
    assert docs[-1].record == "Revelation 22:21"
    assert len({d.record for d in docs}) == len(docs)


def test_pydoc_yields_topics(builtins):
    pydoc = next(f for f in builtins.files if f.source == "pydoc")
    from pydoc_data import topics

    assert Path(pydoc.path) == Path(topics.__file__)
    docs = list(read_documents(pydoc, CorpusConfig()))
    assert len(docs) > 50
    assert {d.record: d.text for d in docs} == topics.topics
    assert all(d.encoding == "utf-8" and d.read_error is None for d in docs)


def test_unknown_builtin_lists_known_ones():
    with pytest.raises(ValueError, match=r"bible.*known: kjv, pydoc, docstrings"):
        discover(CorpusConfig(builtin=["bible"], paths=[]))


def test_unknown_fallback_encoding_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="no-such-codec"):
        discover(cfg(paths=[str(tmp_path)], fallback_encoding="no-such-codec"))


# ------------------------------------------------------------------------------- discovery


def make_tree(root: Path) -> None:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("alpha", encoding="utf-8")
    (root / "b" / "notes.MD").write_text("# notes", encoding="utf-8")
    (root / "b" / "deep" / "rows.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    (root / "b" / "deep" / "table.csv").write_text("text\ny\n", encoding="utf-8")
    pq.write_table(pa.table({"text": ["z"]}), root / "b" / "t.parquet")
    (root / "b" / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / "README").write_text("no extension", encoding="utf-8")
    (root / ".hidden.txt").write_text("secret", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "config.txt").write_text("x", encoding="utf-8")


def test_directory_recursion_and_skip_report(tmp_path):
    make_tree(tmp_path)
    found = discover(cfg(paths=["."]), base_dir=tmp_path)
    rel = [os.path.relpath(f.path, tmp_path) for f in found.files]
    assert rel == sorted(rel)
    assert set(rel) == {
        "a.txt",
        os.path.join("b", "notes.MD"),
        os.path.join("b", "deep", "rows.jsonl"),
        os.path.join("b", "deep", "table.csv"),
        os.path.join("b", "t.parquet"),
    }
    assert all(f.source == "landing" and os.path.isabs(f.path) for f in found.files)
    skipped = {os.path.relpath(p, tmp_path): reason for p, reason in found.skipped}
    assert skipped == {
        os.path.join("b", "image.png"): "unsupported_extension",
        "README": "unsupported_extension",
        ".hidden.txt": "hidden",
        ".git": "hidden",
    }
    by_name = {Path(f.path).name: f for f in found.files}
    assert by_name["a.txt"].sha256 == sha256_file(tmp_path / "a.txt")
    assert by_name["a.txt"].size == 5
    assert {f.format for f in found.files} == {"text", "jsonl", "csv", "parquet"}


def test_discover_is_deterministic_and_deduplicated(tmp_path):
    for name in ["z.txt", "m.txt", "a.txt", "k.md"]:
        (tmp_path / "sub").mkdir(exist_ok=True)
        (tmp_path / "sub" / name).write_text(name, encoding="utf-8")
        (tmp_path / name).write_text(name, encoding="utf-8")
    config = cfg(paths=["sub", ".", "sub/a.txt"])
    first = discover(config, base_dir=tmp_path)
    second = discover(cfg(paths=[".", "sub/a.txt", "sub"]), base_dir=tmp_path)
    assert first == second
    paths = [f.path for f in first.files]
    assert paths == sorted(paths)
    assert len(paths) == len(set(paths)) == 8


def test_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope/corpus"):
        discover(cfg(paths=["nope/corpus"]), base_dir=tmp_path)


def test_single_file_with_unsupported_extension_is_rejected(tmp_path):
    (tmp_path / "data.xml").write_text("<a/>", encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported extension"):
        discover(cfg(paths=["data.xml"]), base_dir=tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX fifos and symlinks")
def test_special_entries_are_skipped_not_read(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.txt").write_text("x", encoding="utf-8")
    os.symlink(tmp_path / "real", tmp_path / "link")
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink(tmp_path / "gone.txt", tmp_path / "broken.txt")
    found = discover(cfg(paths=["."]), base_dir=tmp_path)
    assert [Path(f.path).name for f in found.files] == ["x.txt"]
    assert {Path(p).name: r for p, r in found.skipped} == {
        "link": "symlinked_directory",
        "pipe.txt": "not_a_regular_file",
        "broken.txt": "unreadable_file",
    }


# ------------------------------------------------------------------------------- plain text


def test_utf8_text_file(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("héllo\r\nwörld\n", encoding="utf-8", newline="")
    doc = only(read(path))
    assert (doc.source, doc.record, doc.text, doc.encoding, doc.read_error) == (
        "landing",
        "",
        "héllo\r\nwörld\n",
        "utf-8",
        None,
    )


def test_utf8_bom_is_stripped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + "naïve".encode())
    doc = only(read(path))
    assert (doc.text, doc.encoding) == ("naïve", "utf-8-sig")


def test_cp1252_text_file(tmp_path):
    path = tmp_path / "win.txt"
    text = "“Smart quotes” – café, 10 €"
    path.write_bytes(text.encode("cp1252"))
    doc = only(read(path))
    assert (doc.text, doc.encoding, doc.read_error) == (text, "cp1252", None)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    path = tmp_path / "wide.txt"
    text = "Wide text: ünïcödé ✓\n"
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    path.write_bytes(bom + text.encode(codec))
    doc = only(read(path))
    assert (doc.text, doc.encoding, doc.read_error) == (text, "utf-16", None)


def test_latin1_is_the_last_resort(tmp_path):
    # 0x81 and 0x8d are undefined in cp1252 and invalid in UTF-8: only latin-1 takes them.
    raw = b"abc \x81\x8d def"
    path = tmp_path / "odd.txt"
    path.write_bytes(raw)
    doc = only(read(path))
    assert doc.encoding == "latin-1"
    assert doc.text is not None and doc.text.encode("latin-1") == raw


def test_configured_fallback_encoding_is_used(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes("Привет".encode("koi8-r"))
    doc = only(read(path, fallback_encoding="koi8-r"))
    assert (doc.text, doc.encoding) == ("Привет", "koi8-r")


def test_decode_bytes_order():
    assert decode_bytes(b"plain") == ("plain", "utf-8")
    assert decode_bytes("é".encode("utf-32")) == ("é", "utf-32")
    assert decode_bytes(b"\xe9") == ("é", "cp1252")


def test_binary_file(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(b"looks like text\x00\x01\x02 but is not")
    doc = only(read(path))
    assert (doc.text, doc.read_error) == (None, "binary")


def test_control_heavy_file_is_binary(tmp_path):
    path = tmp_path / "ctl.md"
    path.write_bytes(bytes(range(1, 32)) * 20)
    assert only(read(path)).read_error == "binary"
    assert not is_binary(b"tabs\tand\r\nnewlines\x0c and \x1b[1mansi\x1b[0m")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.touch()
    doc = only(read(path))
    assert (doc.text, doc.read_error, doc.encoding) == ("", "empty_file", None)


@pytest.mark.parametrize("name", ["e.jsonl", "e.csv", "e.parquet"])
def test_empty_file_any_format(tmp_path, name):
    (tmp_path / name).touch()
    assert only(read(tmp_path / name)).read_error == "empty_file"


def test_file_too_large(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x" * 101, encoding="utf-8")
    assert only(read(path, max_file_bytes=100)).read_error == "file_too_large"
    assert only(read(path, max_file_bytes=101)).read_error is None


def test_vanished_file_is_unreadable(tmp_path):
    path = tmp_path / "gone.txt"
    path.write_text("here", encoding="utf-8")
    source = user_file(path)
    path.unlink()
    doc = only(list(read_documents(source, cfg())))
    assert (doc.text, doc.read_error, doc.path) == (None, "unreadable_file", str(path))


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="root ignores file permissions",
)
def test_permission_denied_is_unreadable(tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text("secret", encoding="utf-8")
    source = user_file(path)
    path.chmod(0)
    try:
        assert only(list(read_documents(source, cfg()))).read_error == "unreadable_file"
    finally:
        path.chmod(0o600)


def test_directory_replaced_file_is_unreadable(tmp_path):
    # Works as root too: opening a directory fails with IsADirectoryError (an OSError).
    path = tmp_path / "swap.txt"
    path.write_text("here", encoding="utf-8")
    source = user_file(path)
    path.unlink()
    path.mkdir()
    assert only(list(read_documents(source, cfg()))).read_error == "unreadable_file"


def test_huge_single_line_passes_through(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("a" * 100_000, encoding="utf-8")
    assert only(read(path)).text == "a" * 100_000


# ------------------------------------------------------------------------------- jsonl


def test_jsonl_good_bad_and_blank_lines(tmp_path):
    lines = [
        json.dumps({"text": "first", "id": 1}),
        "",
        "   ",
        "{not json",
        json.dumps({"body": "no text field"}),
        json.dumps({"text": 42}),
        json.dumps({"text": None}),
        json.dumps(["a", "list"]),
        "[" * 100_000,
        json.dumps({"text": "last ✓"}),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs = read(path)
    assert [(d.record, d.text, d.read_error) for d in docs] == [
        ("1", "first", None),
        ("4", None, "bad_json"),
        ("5", None, "missing_text_field"),
        ("6", None, "missing_text_field"),
        ("7", None, "null_text"),
        ("8", None, "missing_text_field"),
        ("9", None, "bad_json"),
        ("10", "last ✓", None),
    ]
    assert all(d.encoding == "utf-8" for d in docs)


def test_jsonl_custom_text_field_and_crlf(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"body": "one"}\r\n{"body": "two\\nlines"}\r\n')
    docs = read(path, text_field="body")
    assert [d.text for d in docs] == ["one", "two\nlines"]


def test_jsonl_lines_decode_independently(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        codecs.BOM_UTF8 + '{"text": "café"}\n'.encode() + '{"text": "naïve"}\n'.encode("cp1252")
    )
    docs = read(path)
    assert [(d.text, d.encoding) for d in docs] == [("café", "utf-8"), ("naïve", "cp1252")]


def test_jsonl_utf16(tmp_path):
    path = tmp_path / "wide.jsonl"
    path.write_text('{"text": "ä"}\n{"text": "b"}\n', encoding="utf-16")
    docs = read(path)
    assert [(d.record, d.text, d.encoding) for d in docs] == [
        ("1", "ä", "utf-16"),
        ("2", "b", "utf-16"),
    ]


def test_jsonl_binary(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b'{"text": "x"}\n\x00\x00\x00')
    assert only(read(path)).read_error == "binary"


# ------------------------------------------------------------------------------- csv


def test_csv_rows_and_nulls(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        'id,text\n1,hello\n2,\n3,"multi\nline, with comma"\n4,NA\n5,null\n', encoding="utf-8"
    )
    docs = read(path)
    assert [(d.record, d.text, d.read_error) for d in docs] == [
        ("0", "hello", None),
        ("1", None, "null_text"),
        ("2", "multi\nline, with comma", None),
        ("3", "NA", None),
        ("4", "null", None),
    ]


def test_csv_cp1252(tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes("text\n“quoted” café\n".encode("cp1252"))
    doc = only(read(path))
    assert (doc.text, doc.encoding) == ("“quoted” café", "cp1252")


def test_csv_without_text_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,body\n1,hello\n", encoding="utf-8")
    doc = only(read(path))
    assert (doc.record, doc.text, doc.read_error) == ("", None, "missing_text_field")


def test_csv_only_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\n\n\n", encoding="utf-8")
    assert only(read(path)).read_error == "missing_text_field"


def test_malformed_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n1,ok\n2,too,many,fields\n", encoding="utf-8")
    assert only(read(path)).read_error == "bad_csv"


def test_csv_header_only_yields_nothing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n", encoding="utf-8")
    assert read(path) == []


# ------------------------------------------------------------------------------- parquet


def test_parquet_rows_and_nulls(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table({"id": [1, 2, 3], "text": ["a", None, "ç"]})
    pq.write_table(table, path, row_group_size=2)
    docs = read(path)
    assert [(d.record, d.text, d.encoding, d.read_error) for d in docs] == [
        ("0", "a", "utf-8", None),
        ("1", None, None, "null_text"),
        ("2", "ç", "utf-8", None),
    ]


def test_parquet_via_pandas_and_dictionary_column(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"text": pd.Categorical(["x", "y", "x"])}).to_parquet(path)
    assert [d.text for d in read(path)] == ["x", "y", "x"]


def test_parquet_without_text_column(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"body": ["a"]}), path)
    assert only(read(path)).read_error == "missing_text_field"


def test_parquet_non_string_text_column(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), path)
    assert only(read(path)).read_error == "missing_text_field"


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet \x00\x01")
    doc = only(read(path))
    assert (doc.text, doc.read_error) == (None, "unreadable_file")


def test_truncated_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"text": ["a"] * 1000}), good)
    path = tmp_path / "cut.parquet"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert only(read(path)).read_error == "unreadable_file"
