"""The prediction log: row building, one-shot appends, the buffered writer, the window reader."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pyarrow as pa
import pytest

from textrepair.data import tables
from textrepair.model.repairer import RepairResult, compute_edits
from textrepair.monitoring.predlog import (
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


def _writer(tmp_path, uri: str, **options) -> PredictionLogWriter:
    options = {"flush_rows": 5, "flush_seconds": 60, "retry_seconds": (0.05, 0.2), **options}
    return PredictionLogWriter(uri, spill_file=tmp_path / "spill" / "log.jsonl", **options)


def _eventually(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _logged(uri: str) -> int:
    return len(read_window(uri)) if tables.table_exists(uri) else 0


def test_writer_commits_every_n_rows_on_its_own_thread_and_on_close(tmp_path):
    uri = str(tmp_path / "log")
    writer = _writer(tmp_path, uri)
    writer.log(_rows(3))
    assert writer.pending() == 3
    writer.log(_rows(3))  # 6 >= 5: the writer thread commits, not the caller
    _eventually(lambda: _logged(uri) == 6)
    writer.log(_rows(2))
    writer.close()
    assert len(read_window(uri)) == 8
    writer.log(_rows(1))  # after close: kept in the spill file for the next start, no error
    assert writer.stats()["spilled_rows"] == 1
    with _writer(tmp_path, uri):
        pass
    assert len(read_window(uri)) == 9


def test_writer_from_settings_uses_the_monitor_section(tmp_path):
    from textrepair.config import MonitorConfig, Settings, StorageConfig

    monitor = MonitorConfig(
        log_table="plog",
        flush_rows=7,
        flush_seconds=3.0,
        max_buffer_rows=70,
        spill_file=str(tmp_path / "spill.jsonl"),
        retry_min_seconds=0.1,
        retry_max_seconds=2,
    )
    settings = Settings.model_construct(
        storage=StorageConfig(root=str(tmp_path / "lake")), monitor=monitor
    )
    with PredictionLogWriter.from_settings(settings) as writer:
        assert writer.uri == str(tmp_path / "lake" / "plog")
        assert (writer.flush_rows, writer.flush_seconds, writer.max_buffer_rows) == (7, 3.0, 70)
        assert writer.retry_seconds == (0.1, 2)


def test_writer_commits_old_rows_after_flush_seconds(tmp_path):
    uri = str(tmp_path / "log")
    with _writer(tmp_path, uri, flush_rows=1000, flush_seconds=0.2) as writer:
        writer.log(_rows(2))
        _eventually(lambda: _logged(uri) == 2)
        assert writer.pending() == 0


def test_writer_is_thread_safe(tmp_path):
    uri = str(tmp_path / "log")
    with _writer(tmp_path, uri, flush_rows=25, flush_seconds=0.1) as writer:

        def serve(worker: int) -> None:
            for _ in range(10):
                writer.log(_rows(4, path="api"))

        threads = [threading.Thread(target=serve, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(read_window(uri)) == 6 * 10 * 4


def test_a_failing_lake_spills_and_replays_every_row_exactly_once(tmp_path, caplog):
    lake = tmp_path / "lake"
    lake.write_text("a file where the lake's folder should be")  # unwritable, even for root
    uri = str(lake / "log")
    writer = _writer(tmp_path, uri)
    for _ in range(4):
        writer.log(_rows(5))
    _eventually(lambda: writer.stats()["spilled_rows"] == 20)
    stats = writer.stats()
    assert stats["failed_commits"] >= 1 and stats["committed_rows"] == 0
    assert re.search(r"cannot append \d+ rows", caplog.text)
    lake.unlink()  # the lake is back
    writer.log(_rows(5))
    _eventually(lambda: _logged(uri) == 25)
    writer.close()
    assert len(read_window(uri)) == 25 and writer.stats()["replayed_rows"] == 20
    assert writer.stats()["dropped_rows"] == 0
    assert not list((tmp_path / "spill").iterdir())


def test_a_hanging_lake_never_blocks_log_and_extra_rows_spill(tmp_path, hanging_lake):
    uri = str(tmp_path / "log")
    writer = _writer(tmp_path, uri, max_buffer_rows=10)
    writer.log(_rows(5))  # taken by the writer thread, whose commit hangs
    _eventually(lambda: writer.pending() == 0)
    started = time.monotonic()
    for _ in range(10):
        writer.log(_rows(5))
    assert time.monotonic() - started < 5  # no call waited for the hung commit
    assert writer.stats()["spilled_rows"] >= 40  # past the 10-row cap: on disk, not in memory
    hanging_lake.set()
    writer.close()
    assert len(read_window(uri)) == 55


def test_rows_that_cannot_be_spilled_are_counted_as_dropped(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("no folder here")
    writer = PredictionLogWriter(
        str(blocker / "log"), spill_file=blocker / "spill.jsonl", flush_rows=5, flush_seconds=60
    )
    writer.log(_rows(5))
    _eventually(lambda: writer.stats()["dropped_rows"] == 5)
    writer.close(timeout=5)


def test_a_batch_that_landed_before_a_crash_is_not_replayed_twice(tmp_path):
    from textrepair.monitoring.predlog_spill import SpilledBatch, SpillFile

    uri = str(tmp_path / "log")
    landed, untried = _rows(3), _rows(4)
    table = pa.Table.from_pylist(landed, schema=PREDICTION_LOG_SCHEMA)
    tables.append_arrow_once(table, uri, app_id="old-process", txn_version=7)
    spill = SpillFile(tmp_path / "spill" / "log.jsonl")
    spill.append(SpilledBatch(landed, "old-process", 7))  # its commit landed, then a crash
    spill.append(SpilledBatch(untried))
    with _writer(tmp_path, uri) as writer:
        _eventually(lambda: not spill.has_batches())
    assert len(read_window(uri)) == 7 and writer.stats()["replayed_rows"] == 4
