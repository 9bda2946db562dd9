"""One bad line never stops an ingest: the poison corpus, read and then run through Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
from poison_corpus import MAX_FILE_BYTES, MAX_LINE_BYTES, write_poison_corpus

from textrepair.config import CorpusConfig
from textrepair.data import corpus, tables
from textrepair.data.corpus import discover, read_documents
from textrepair.stages.clean import run_clean
from textrepair.stages.ingest import run_ingest

pytestmark = pytest.mark.skipif(not hasattr(corpus.os, "symlink"), reason="needs symlinks")


@pytest.fixture
def poison(tmp_path):
    return write_poison_corpus(tmp_path)


def config(folder: Path) -> CorpusConfig:
    return CorpusConfig(builtin=[], paths=[str(folder)], max_file_bytes=MAX_FILE_BYTES)


def test_every_bad_record_is_a_document_with_its_reason(poison):
    found = discover(config(poison.folder))
    assert dict(found.skipped) == poison.skipped
    docs = [d for f in found.files for d in read_documents(f, config(poison.folder))]
    errors = {(Path(d.path).name, d.record): d.read_error for d in docs if d.read_error}
    expected = {key: reason for key, reason in poison.bad.items() if reason != "huge_line"}
    assert errors == expected  # huge_line is clean's rule, applied after reading
    texts = {d.text for d in docs if d.read_error is None}
    assert set(poison.good) <= texts


def test_files_over_the_limit_are_not_hashed_in_full(poison, monkeypatch):
    hashed: list[str] = []
    real = corpus.sha256_file
    monkeypatch.setattr(corpus, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    files = {Path(f.path).name: f for f in discover(config(poison.folder)).files}
    assert "oversize.txt" in files and "oversize.txt" not in hashed
    assert "good.txt" in hashed
    again = {Path(f.path).name: f for f in discover(config(poison.folder)).files}
    assert again["oversize.txt"].sha256 == files["oversize.txt"].sha256  # still incremental


def test_ingest_and_clean_quarantine_the_poison_and_keep_the_rest(
    spark, poison, tmp_path, settings_for
):
    tiny = settings_for(tmp_path / "lake", poison.folder, silver={"max_line_bytes": MAX_LINE_BYTES})
    settings = tiny.model_copy(update={"corpus": config(poison.folder)})
    ingested = run_ingest(settings, spark)
    assert ingested.files_skipped == poison.skipped
    cleaned = run_clean(settings, spark)  # raises if the counts do not reconcile
    quarantine = tables.read_arrow(settings.lake_path("quarantine"))
    reasons = {
        (Path(path).name, record): rule
        for path, record, rule in zip(
            *(quarantine[c].to_pylist() for c in ("path", "record", "rule")), strict=True
        )
    }
    assert reasons == poison.bad
    silver = set(
        tables.read_arrow(settings.lake_path("silver"), columns=["text"])["text"].to_pylist()
    )
    assert silver == set(poison.good)
    assert cleaned.documents_quarantined == len(poison.bad)
    assert cleaned.bronze_documents == len(poison.bad) + len(poison.good)
