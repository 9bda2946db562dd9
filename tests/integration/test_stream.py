"""Structured Streaming in-process: landing files in, predictions and quarantine out, once."""

from __future__ import annotations

import json
import threading
import time
import traceback
from pathlib import Path

import pytest

from textrepair.config import Settings
from textrepair.data import tables
from textrepair.scoring import resolve_model
from textrepair.stages.produce import produce, sample_texts, write_landing_file
from textrepair.stages.stream import ExactlyOnceSink, StreamPaths, start_stream
from textrepair.stages.stream import run as run_stream

pytestmark = [pytest.mark.spark, pytest.mark.slow]

BAD_LINES = {
    "bad_json": b'{"id": "b1", "text": ',
    "missing_id": b'{"text": "who am i"}',
    "non_string_text": b'{"id": "b3", "text": 42}',
    "oversize_text": json.dumps({"id": "b4", "text": "x" * 201}).encode(),
    "not_an_object": b"[1, 2]",
    # Each of these stopped the stream before issue 20.
    "too_deep": b"[" * 50_000 + b"]" * 50_000,
    "bad_unicode": b'{"id": "b7", "text": "half a pair: \\ud800"}',
    "bad_number": b'{"id": "b8", "text": "x", "weight": 1e999}',
    "bad_encoding": b'{"id": "b9", "text": "caf\xe9"}',  # cp1252, not UTF-8
}


def stream_settings(tmp: Path, tiny_params, **stream) -> Settings:
    params = tiny_params(tmp, "stream-test")
    params["stream"] = {**params["stream"], "max_text_chars": 200, **stream}
    return Settings(**params)


def stream_paths(tmp: Path) -> StreamPaths:
    return StreamPaths(
        landing=str(tmp / "landing"),
        table=str(tmp / "lake" / "stream_predictions"),
        quarantine=str(tmp / "lake" / "stream_quarantine"),
        checkpoint=str(tmp / "checkpoint"),
        metrics_file=str(tmp / "reports" / "stream_metrics.json"),
    )


def _ids(uri: str) -> list[str]:
    return sorted(tables.read_arrow(uri, columns=["id"]).column("id").to_pylist())


def test_available_now_scores_good_lines_quarantines_bad_ones_and_resumes(
    spark, tmp_path, tiny_params, copy_model_dir, damaged_texts
):
    settings = stream_settings(tmp_path, tiny_params, max_files_per_trigger=2)
    paths = stream_paths(tmp_path)
    landing = Path(paths.landing)
    texts = iter(damaged_texts)
    write_landing_file(landing, "a.jsonl", [{"id": f"a{i}", "text": next(texts)} for i in range(5)])
    write_landing_file(landing, "b.jsonl", [{"id": i, "text": next(texts)} for i in range(3)])
    lines = [*BAD_LINES.values(), json.dumps({"id": "c0", "text": next(texts)}).encode()]
    (landing / "c.json").write_bytes(b"\n".join(lines) + b"\n")
    (landing / "ignored.txt").write_text("not a landing file\n")
    model = resolve_model(str(copy_model_dir))
    messages: list[str] = []

    sink = run_stream(spark, settings, model, paths, available_now=True, echo=messages.append)
    assert sink.totals.batches == 2  # three files, two per trigger
    assert _ids(paths.table) == ["0", "1", "2", "a0", "a1", "a2", "a3", "a4", "c0"]
    quarantine = tables.read_arrow(paths.quarantine).to_pylist()
    assert sorted(q["reason"] for q in quarantine) == sorted(BAD_LINES)
    assert all(q["source_file"].endswith("c.json") and q["raw"] for q in quarantine)
    assert sink.totals.quarantine_reasons == dict.fromkeys(BAD_LINES, 1)
    row = tables.read_arrow(paths.table).to_pylist()[0]
    assert row["model_version"] == model.version and row["landed_at"] <= row["scored_at"]
    metrics = json.loads(Path(paths.metrics_file).read_text())
    assert metrics["totals"]["predictions"] == 9
    assert metrics["totals"]["quarantined"] == len(BAD_LINES)
    assert metrics["last_batch"]["latency_max_seconds"] >= 0
    assert Path(paths.metrics_file).with_suffix(".prom").exists()
    assert any("latency p50" in m for m in messages)

    # Same checkpoint, nothing new: no batch. A new file: only its rows are added.
    assert run_stream(spark, settings, model, paths, available_now=True).totals.batches == 0
    write_landing_file(landing, "d.jsonl", [{"id": "d0", "text": next(texts)}])
    again = run_stream(spark, settings, model, paths, available_now=True, echo=messages.append)
    assert again.totals.predictions == 1
    assert _ids(paths.table).count("d0") == 1 and len(_ids(paths.table)) == 10
    assert len(tables.read_arrow(paths.quarantine)) == len(BAD_LINES)


def test_a_replayed_micro_batch_is_written_once(spark, tmp_path, tiny_params, copy_model_dir):
    settings = stream_settings(tmp_path, tiny_params)
    paths = stream_paths(tmp_path)
    lines = [json.dumps({"id": "x", "text": "the lord said"}), "oops"]
    batch = spark.createDataFrame(
        [(line, "file:/landing/f.jsonl") for line in lines], "value string, source_file string"
    ).selectExpr("*", "current_timestamp() AS landed_at")
    sink = ExactlyOnceSink(
        resolve_model(str(copy_model_dir)), paths, settings.stream, {}, echo=lambda _: None
    )
    # foreachBatch runs with the query id as a local property; set it as Spark would.
    spark.sparkContext.setLocalProperty("sql.streaming.queryId", "replay-test")
    try:
        sink(batch, 7)
        sink(batch, 7)  # the checkpoint replays batch 7 after a crash
    finally:
        spark.sparkContext.setLocalProperty("sql.streaming.queryId", None)
    assert sink.totals.replayed_batches_skipped == 1
    assert _ids(paths.table) == ["x"] and len(tables.read_arrow(paths.quarantine)) == 1
    app = "textrepair-stream-replay-test"
    assert tables.committed_transaction(paths.table, app) == 7


def test_two_drivers_replaying_one_batch_commit_it_once(
    spark, tmp_path, tiny_params, copy_model_dir, monkeypatch
):
    """Two sinks (say, a restarted driver and one that never died) write batch 3 at once: both
    have checked the table before either commits, and still exactly one commit lands."""
    settings = stream_settings(tmp_path, tiny_params)
    paths = stream_paths(tmp_path)
    lines = [json.dumps({"id": f"x{i}", "text": "the lord said"}) for i in range(3)] + ["oops"]
    batch = spark.createDataFrame(
        [(line, "file:/landing/f.jsonl") for line in lines], "value string, source_file string"
    ).selectExpr("*", "current_timestamp() AS landed_at")
    model = resolve_model(str(copy_model_dir))
    # Hold every delta-rs write until both sinks reach it: both have read the table by then,
    # which is the window in which a check-then-write sink appends twice.
    both_checked = threading.Barrier(2, timeout=120)
    real_write = tables.write_deltalake

    def write_when_both_arrive(*args, **kwargs):
        both_checked.wait()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(tables, "write_deltalake", write_when_both_arrive)
    errors: list[BaseException] = []

    def drive() -> None:
        sink = ExactlyOnceSink(model, paths, settings.stream, {}, echo=lambda _: None)
        spark.sparkContext.setLocalProperty("sql.streaming.queryId", "two-drivers")
        try:
            sink(batch, 3)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            both_checked.abort()

    drivers = [threading.Thread(target=drive) for _ in range(2)]
    for driver in drivers:
        driver.start()
    for driver in drivers:
        driver.join(timeout=300)
    # The whole traceback: a bare OSError from a racing thread says nothing of where it arose.
    assert not errors, ["".join(traceback.format_exception(error)) for error in errors]
    assert _ids(paths.table) == ["x0", "x1", "x2"]
    assert len(tables.read_arrow(paths.quarantine)) == 1
    app = "textrepair-stream-two-drivers"
    assert tables.committed_transaction(paths.table, app) == 3


def test_continuous_stream_and_producer_report_end_to_end_latency(
    spark, tmp_path, tiny_params, write_tiny_gold, copy_model_dir
):
    settings = stream_settings(tmp_path, tiny_params, trigger_interval="1 second")
    write_tiny_gold(settings, 30)
    paths = stream_paths(tmp_path)
    query, sink = start_stream(
        spark, settings, resolve_model(str(copy_model_dir)), paths, echo=lambda _: None
    )
    messages: list[str] = []
    try:
        result = produce(
            sample_texts(settings, 12, seed=3),
            Path(paths.landing),
            rate=12.0,
            rows_per_file=4,
            prefix="live",
            table=paths.table,
            wait_seconds=120,
            echo=messages.append,
        )
        # The producer sees rows once they are committed; the sink's bookkeeping follows.
        deadline = time.monotonic() + 60
        while sink.totals.predictions < 12 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        query.stop()
    assert result.files == 3 and not result.unseen
    assert set(result.latencies) == {"live-00000.jsonl", "live-00001.jsonl", "live-00002.jsonl"}
    assert all(0 < seconds < 120 for seconds in result.latencies.values())
    assert _ids(paths.table) == [f"live-{i:06d}" for i in range(12)]
    assert "end-to-end latency per file" in messages[-1]
    assert sink.totals.predictions == 12
