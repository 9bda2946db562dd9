"""The prediction log: row building, one-shot appends, the buffered writer, the window reader."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from textrepair import tables
from textrepair.model.repairer import RepairResult, compute_edits
from textrepair.predlog import (
    PREDICTION_LOG_SCHEMA,
    PredictionLogWriter,
    append_predictions,
    prediction_rows,
    read_window,
)

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def _results(pairs):
    return [RepairResult(out, compute_edits(inp, out), out != inp) for inp, out in pairs]


def _rows(n: int, when: dt.datetime = T0, path: str = "api"):
    inputs = [f"helo wrold {i}" for i in range(n)]
    results = _results([(text, text.replace("helo wrold", "hello world")) for text in inputs])
    return prediction_rows(inputs, results, 2.5, path, 3, timestamp=when)


def test_rows_hold_lengths_edits_damage_rate_and_character_mix():
    pairs = [("helo wrold 7", "hello world 7"), ("", ""), ("fine.", "fine.")]
    rows = prediction_rows(
        [p[0] for p in pairs], _results(pairs), [1.0, 2.0, 3.0], "batch", 12, timestamp=T0
    )
    first, empty, unchanged = rows
    assert first["input_length"] == 12 and first["edits"] == 3 and first["changed"]
    assert first["damage_rate"] == pytest.approx(3 / 12)  # insert l, insert o, delete o
    assert first["share_letters"] == pytest.approx(9 / 12)
    assert first["share_digits"] == pytest.approx(1 / 12)
    assert first["share_spaces"] == pytest.approx(2 / 12)
    assert (first["path"], first["model_version"], first["latency_ms"]) == ("batch", "12", 1.0)
    assert empty["damage_rate"] == 0.0 and empty["input_length"] == 0
    assert unchanged["share_punctuation"] == pytest.approx(1 / 5) and not unchanged["changed"]
    assert set(first) == set(PREDICTION_LOG_SCHEMA.names)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "web"}, "unknown prediction path"),
        ({"latencies_ms": [1.0]}, "2 inputs but 1 latencies"),
        ({"inputs": ["a"]}, "1 inputs but 2 results"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    arguments = {
        "inputs": ["a", "b"],
        "results": _results([("a", "a"), ("b", "b")]),
        "latencies_ms": 1.0,
        "path": "api",
        "model_version": None,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        prediction_rows(**arguments)


def test_appends_accumulate_and_the_window_keeps_the_latest_rows(tmp_path):
    uri = str(tmp_path / "prediction_log")
    assert append_predictions([], uri) is None and not tables.table_exists(uri)
    append_predictions(_rows(3, T0 - dt.timedelta(hours=5), "batch"), uri)
    append_predictions(_rows(2, T0, "stream"), uri)
    everything = read_window(uri)
    assert list(everything["path"]) == ["batch"] * 3 + ["stream"] * 2
    assert list(read_window(uri, last_rows=2)["path"]) == ["stream", "stream"]
    recent = read_window(uri, last_hours=1, now=T0 + dt.timedelta(minutes=10))
    assert len(recent) == 2
    assert len(read_window(uri, last_rows=1, last_hours=24, now=T0)) == 1


def test_reading_a_missing_log_is_a_clear_error(tmp_path):
    with pytest.raises(tables.TableNotFoundError, match="serving"):
        read_window(str(tmp_path / "prediction_log"))


def test_writer_commits_every_n_rows_and_on_close(tmp_path):
    uri = str(tmp_path / "log")
    writer = PredictionLogWriter(uri, flush_rows=5, flush_seconds=60)
    writer.log(_rows(3))
    assert not tables.table_exists(uri) and writer.pending() == 3
    writer.log(_rows(3))  # 6 >= 5: committed in the caller's thread
    assert len(read_window(uri)) == 6 and writer.pending() == 0
    writer.log(_rows(2))
    writer.close()
    assert len(read_window(uri)) == 8
    with pytest.raises(RuntimeError, match="closed"):
        writer.log(_rows(1))


def test_writer_from_settings_uses_the_monitor_section(tmp_path):
    from textrepair.config import MonitorConfig, Settings, StorageConfig

    settings = Settings.model_construct(
        storage=StorageConfig(root=str(tmp_path / "lake")),
        monitor=MonitorConfig(log_table="plog", flush_rows=7, flush_seconds=3.0),
    )
    with PredictionLogWriter.from_settings(settings) as writer:
        assert writer.uri == str(tmp_path / "lake" / "plog")
        assert (writer.flush_rows, writer.flush_seconds) == (7, 3.0)


def test_writer_commits_old_rows_after_flush_seconds(tmp_path):
    uri = str(tmp_path / "log")
    with PredictionLogWriter(uri, flush_rows=1000, flush_seconds=0.2) as writer:
        writer.log(_rows(2))
        deadline = time.monotonic() + 10
        while not tables.table_exists(uri) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(read_window(uri)) == 2 and writer.pending() == 0


def test_writer_is_thread_safe(tmp_path):
    uri = str(tmp_path / "log")
    with PredictionLogWriter(uri, flush_rows=25, flush_seconds=0.1) as writer:

        def serve(worker: int) -> None:
            for _ in range(10):
                writer.log(_rows(4, path="api"))

        threads = [threading.Thread(target=serve, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(read_window(uri)) == 6 * 10 * 4


def test_a_failing_table_keeps_the_rows_for_the_next_flush(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the table's folder should be")
    writer = PredictionLogWriter(str(blocker / "log"), flush_rows=100, flush_seconds=60)
    writer.log(_rows(3))
    assert writer.flush() is None
    assert writer.pending() == 3 and "cannot append 3 rows" in caplog.text
    writer.uri = str(tmp_path / "log")  # the storage is back
    writer.close()
    assert len(read_window(str(tmp_path / "log"))) == 3
