"""Bronze → silver → gold on a tiny corpus with bad input, in one local Spark session."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrepair.data import tables
from textrepair.data.mutations import Mutation, restore
from textrepair.stages.clean import run_clean
from textrepair.stages.corrupt import corrupt_frame, run_corrupt, split_of
from textrepair.stages.ingest import run_ingest

pytestmark = pytest.mark.spark


def _rows(spark, settings, table, version=None):
    frame = tables.read_table(spark, settings.lake_path(table), version=version)
    return [row.asDict(recursive=True) for row in frame.collect()]


def test_bad_input_is_quarantined_with_reasons_and_counts_reconcile(spark, settings):
    ingest = run_ingest(settings, spark)
    assert ingest.files_skipped  # notes.bin has an unknown extension and is reported
    assert "unsupported_extension" in ingest.files_skipped.values()
    clean = run_clean(settings, spark)

    reasons = clean.quarantine_reasons
    for reason in ("binary", "empty_file", "huge_line", "bad_json", "missing_text_field"):
        assert reasons.get(reason, 0) >= 1, reasons
    assert reasons.get("low_letter_ratio", 0) >= 1  # the digits-only jsonl line

    assert clean.bronze_documents == clean.documents_quarantined + clean.documents_windowed
    assert clean.windows == clean.silver_rows + clean.windows_quarantined + clean.duplicates_removed
    assert clean.duplicates_removed >= 1

    quarantine = _rows(spark, settings, "quarantine")
    assert len(quarantine) == clean.documents_quarantined + clean.windows_quarantined
    assert all(row["rule"] for row in quarantine)
    by_path = {
        Path(row["path"]).name: row["rule"] for row in quarantine if row["unit"] == "document"
    }
    assert by_path["binary.txt"] == "binary"
    assert by_path["huge.txt"] == "huge_line"

    silver = _rows(spark, settings, "silver")
    texts = [row["text"] for row in silver]
    assert len(texts) == len(set(texts))
    # The cp1252 file was decoded by the declared fallback, not quarantined.
    assert "Un café très doux, s'il vous plaît." in texts
    assert all(len(t.encode()) <= settings.silver.max_window_bytes for t in texts)


def test_ingest_is_incremental(spark, settings, corpus):
    first = run_ingest(settings, spark)
    assert first.files_ingested == first.files_discovered > 0

    again = run_ingest(settings, spark)
    assert again.files_ingested == 0
    assert again.bronze_documents == first.bronze_documents

    (corpus / "new.txt").write_text("A brand new file arrives in the landing folder.")
    (corpus / "good.txt").write_text("The good file was rewritten with one sentence.")
    third = run_ingest(settings, spark)
    assert third.files_ingested == 2
    assert third.files_changed == 1
    bronze = _rows(spark, settings, "bronze")
    good = [row["text"] for row in bronze if row["path"].endswith("good.txt")]
    assert good == ["The good file was rewritten with one sentence."]
    assert third.bronze_documents == len(bronze)
    assert third.documents_added == 2


def test_gold_rows_restore_split_and_single_type_sets(spark, settings):
    run_ingest(settings, spark)
    clean = run_clean(settings, spark)
    result = run_corrupt(settings, spark)

    gold = _rows(spark, settings, "gold")
    main = [row for row in gold if row["profile"] == settings.gold.profile]
    assert len(main) == clean.silver_rows == result.rows_by_profile[settings.gold.profile]
    assert len({row["id"] for row in gold}) == len(gold)
    for row in gold:
        events = [Mutation(**m) for m in row["mutations"]]
        assert restore(row["corrupted"], events) == row["clean"]
        assert row["split"] == split_of(row["clean"], settings.gold)
        if row["profile"] in settings.gold.single_type_profiles:
            assert row["split"] == "test"
            assert {e.type for e in events} <= {row["profile"]}

    test_main = [row for row in main if row["split"] == "test"]
    for profile in settings.gold.single_type_profiles:
        assert result.rows_by_profile[profile] == len(test_main)
    assert result.rows_by_split["train"] > 0


def test_duplicates_never_straddle_splits(settings):
    # Texts that differ only by case or spacing hash to the same split.
    for text in SAMPLE_TEXTS:
        variants = {text, text.upper(), "  ".join(text.split()), text.lower() + " "}
        assert len({split_of(v, settings.gold) for v in variants}) == 1


SAMPLE_TEXTS = [f"Sentence number {i} with some words in it." for i in range(200)]


def test_some_rows_are_left_clean(spark, make_settings):
    settings = make_settings(gold={"clean_fraction": 0.5})
    run_ingest(settings, spark)
    run_clean(settings, spark)
    result = run_corrupt(settings, spark)
    main_rows = result.rows_by_profile[settings.gold.profile]
    assert 0 < result.clean_rows < main_rows


def test_gold_does_not_depend_on_partitioning(spark, settings):
    silver = spark.createDataFrame(
        [
            (f"id{i:04d}", f"Row {i}: the quick brown fox jumps over the lazy dog.", "landing")
            for i in range(300)
        ],
        "window_id string, text string, source string",
    )

    def collected(frame):
        return sorted(
            (r["id"], r["corrupted"], str(r["mutations"]))
            for r in corrupt_frame(frame, settings).collect()
        )

    one = collected(silver.repartition(1))
    many = collected(silver.repartition(7))
    assert one == many
    assert sum("quick brown fox" not in corrupted for _, corrupted, _ in one) > 10


def test_time_travel_reads_the_previous_gold(spark, settings):
    run_ingest(settings, spark)
    run_clean(settings, spark)
    first = run_corrupt(settings, spark)
    changed = settings.model_copy(update={"seed": settings.seed + 1})
    second = run_corrupt(changed, spark)
    assert second.gold_version == first.gold_version + 1

    old = {r["id"]: r["corrupted"] for r in _rows(spark, settings, "gold", first.gold_version)}
    new = {r["id"]: r["corrupted"] for r in _rows(spark, settings, "gold")}
    assert old.keys() == new.keys()
    assert old != new


def test_silver_validation_rejects_out_of_range_rows(spark, settings):
    from textrepair.data.quality import DataQualityError, validate_silver

    bad = spark.createDataFrame(
        [("x" * 20, "tiny", 4, "d", "user")],
        "window_id string, text string, n_bytes int, doc_id string, source string",
    )
    with pytest.raises(DataQualityError, match="text"):
        validate_silver(bad, settings.silver)
