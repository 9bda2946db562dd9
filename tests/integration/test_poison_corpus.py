"""Ingest (then clean) and the stream over the poison corpus (issue 20): every bad item is counted
with its reason, every good one arrives, and the counts reconcile."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from stream_poison_corpus import (
    MAX_FILE_BYTES,
    STREAM_MAX_TEXT_CHARS,
    PoisonCorpus,
    build_poison_corpus,
)

from textrepair.config import Settings
from textrepair.data import tables
from textrepair.scoring import resolve_model
from textrepair.stages.clean import run_clean
from textrepair.stages.ingest import run_ingest
from textrepair.stages.stream import StreamPaths
from textrepair.stages.stream import run as run_stream

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def poison(tmp_path) -> PoisonCorpus:
    return build_poison_corpus(tmp_path / "poison")


def poison_settings(tmp: Path, tiny_params, corpus: PoisonCorpus) -> Settings:
    params = tiny_params(tmp, "poison")
    params["corpus"].update(builtin=[], paths=[str(corpus.landing)], max_file_bytes=MAX_FILE_BYTES)
    params["stream"].update(max_text_chars=STREAM_MAX_TEXT_CHARS, max_files_per_trigger=10)
    return Settings(**params)


def _by_name(rows: list[dict], value: str) -> dict[tuple[str, str], str]:
    return {(Path(row["path"]).name, row["record"]): row[value] for row in rows}


def test_ingest_and_stream_quarantine_every_bad_item_and_keep_every_good_one(
    spark, tmp_path, tiny_params, copy_model_dir, poison
):
    settings = poison_settings(tmp_path, tiny_params, poison)
    _check_ingest(settings, spark, poison)
    _check_stream(settings, spark, poison, tmp_path, str(copy_model_dir))


def _check_ingest(settings: Settings, spark, poison: PoisonCorpus) -> None:
    ingested = run_ingest(settings, spark, base_dir=poison.landing.parent)
    assert {Path(p).name: r for p, r in ingested.files_skipped.items()} == poison.skipped_files
    bronze = tables.read_arrow(settings.lake_path("bronze")).to_pylist()
    assert not any("vault" in (row["text"] or "") for row in bronze)  # the symlink's target
    encodings = {Path(row["path"]).name: row["encoding"] for row in bronze}
    assert all(encodings[name] == "cp1252" for name in poison.fallback_decoded)

    cleaned = run_clean(settings, spark)  # raises itself if its counts do not reconcile
    quarantine = tables.read_arrow(settings.lake_path("quarantine")).to_pylist()
    documents = [row for row in quarantine if row["unit"] == "document"]
    assert _by_name(documents, "rule") == poison.bad_documents
    assert len(documents) == len(quarantine)  # no good document broke a window rule
    silver = tables.read_arrow(settings.lake_path("silver"), columns=["path", "record"])
    assert set(_by_name(silver.to_pylist(), "record")) == poison.good_documents

    # Reconcile: every file is read or skipped; every document is quarantined or windowed.
    assert ingested.files_discovered + len(ingested.files_skipped) == len(
        list(poison.landing.iterdir())
    )
    read_errors = Counter(r for r in poison.bad_documents.values() if r != "huge_line")
    assert ingested.read_errors == dict(read_errors)
    assert cleaned.documents_quarantined == len(poison.bad_documents)
    assert cleaned.documents_windowed == len(poison.good_documents)
    assert cleaned.bronze_documents == len(poison.bad_documents) + len(poison.good_documents)


def _check_stream(
    settings: Settings, spark, poison: PoisonCorpus, tmp: Path, model_dir: str
) -> None:
    paths = StreamPaths(
        landing=str(poison.stream_landing),
        table=str(tmp / "lake" / "stream_predictions"),
        quarantine=str(tmp / "lake" / "stream_quarantine"),
        checkpoint=str(tmp / "checkpoint"),
        metrics_file=str(tmp / "reports" / "stream_metrics.json"),
    )
    model = resolve_model(model_dir)
    sink = run_stream(spark, settings, model, paths, available_now=True, echo=lambda _: None)

    predicted = tables.read_arrow(paths.table, columns=["id"]).column("id").to_pylist()
    assert sorted(predicted) == sorted(poison.good_ids)  # each good line once
    quarantine = tables.read_arrow(paths.quarantine, columns=["reason", "raw"]).to_pylist()
    assert Counter(row["reason"] for row in quarantine) == poison.bad_lines
    assert not any("vault" in row["raw"] for row in quarantine)  # the symlink's target
    totals = sink.totals
    assert totals.quarantine_reasons == dict(poison.bad_lines)
    assert totals.lines == poison.stream_lines == totals.predictions + totals.quarantined
