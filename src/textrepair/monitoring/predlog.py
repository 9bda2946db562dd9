"""The prediction log: one Delta row per repaired text, from every prediction path.

Public API (everything else is private):

    rows = prediction_rows(inputs, results, latencies_ms, path="api", model_version="3")
        Pure: turns inputs and their `RepairResult`s (anything with `.text` and `.edits`) into
        log rows. `latencies_ms` is one number per input, or one number for all of them.
    append_predictions(rows, uri)
        One-shot append (batch job, each stream micro-batch). Returns the new table version.
    writer = PredictionLogWriter(uri, spill_file=path, flush_rows=100, flush_seconds=5.0)
    writer = PredictionLogWriter.from_settings(settings)      # the same, from `monitor:`
    writer.log(rows); ...; writer.stats(); writer.close()
        Thread-safe appender for a web server. `log` only buffers; a background thread commits
        every `flush_rows` rows or when the oldest is `flush_seconds` old, and on `close()`.
        A lake that fails or hangs never blocks `log`: failed batches and rows over the memory
        cap go to a local spill file, replayed exactly once when the lake takes commits again.
    read_window(uri, last_rows=N, last_hours=H)
        The most recent rows, as a pandas DataFrame sorted by time (what the monitor compares).
    rows_from_predictions(table, seconds, path="batch")
        Log rows from predictions-table rows (input, repaired, edits JSON, model_version).
    log_uri(settings)
        Where the log lives: `<storage.root>/<monitor.log_table>`.

Columns (PREDICTION_LOG_SCHEMA): `timestamp` (UTC), `path` (api|batch|stream|ui),
`model_version`, `input_length` (characters), `edits` (count), `damage_rate` (Levenshtein
distance input→output per input character: the model's estimate of the damage), `changed`,
`latency_ms`, and the input's character-class shares `share_<letters|digits|spaces|punctuation|
other>`. The text itself is never stored. Rows go through `textrepair.data.tables`, like every
table.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from textrepair.data import tables
from textrepair.monitoring.predlog_spill import SpilledBatch, SpillFile
from textrepair.monitoring.textfeatures import CHAR_CLASSES, char_class_shares, damage_rate

if TYPE_CHECKING:
    import pandas as pd

    from textrepair.config import Settings

log = logging.getLogger(__name__)

PredictionPath = Literal["api", "batch", "stream", "ui"]
PATHS: tuple[str, ...] = ("api", "batch", "stream", "ui")
SHARE_COLUMNS = tuple(f"share_{name}" for name in CHAR_CLASSES)
PREDICTION_LOG_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("path", pa.string()),
        ("model_version", pa.string()),
        ("input_length", pa.int64()),
        ("edits", pa.int64()),
        ("damage_rate", pa.float64()),
        ("changed", pa.bool_()),
        ("latency_ms", pa.float64()),
        *[(column, pa.float64()) for column in SHARE_COLUMNS],
    ]
)
# What PredictionLogWriter.stats() counts (rows unless said otherwise).
WRITER_COUNTS = (
    "committed_rows",
    "failed_commits",
    "spilled_rows",
    "replayed_rows",
    "dropped_rows",
)


def log_uri(settings: Settings) -> str:
    """URI of the prediction log table."""
    return settings.lake_path(settings.monitor.log_table)


def prediction_rows(
    inputs: Sequence[str],
    results: Sequence[Any],
    latencies_ms: float | Sequence[float],
    path: PredictionPath,
    model_version: str | int | None,
    *,
    timestamp: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Log rows for `inputs` and their results (objects with `.text` and `.edits`)."""
    if path not in PATHS:
        raise ValueError(f"unknown prediction path {path!r}; expected one of {PATHS}")
    if len(inputs) != len(results):
        raise ValueError(f"{len(inputs)} inputs but {len(results)} results")
    latencies = _per_row(latencies_ms, len(inputs))
    when = timestamp or dt.datetime.now(dt.UTC)
    version = "unknown" if model_version is None else str(model_version)
    return [
        _row(text, result, latency, path, version, when)
        for text, result, latency in zip(inputs, results, latencies, strict=True)
    ]


def rows_from_predictions(
    predictions: pa.Table, seconds: float, path: PredictionPath
) -> list[dict[str, Any]]:
    """Log rows from an Arrow predictions table (`input`, `repaired`, `edits` JSON,
    `model_version`), each with the average latency `seconds / rows` (batch and stream time
    whole batches)."""
    import json
    from types import SimpleNamespace

    data = predictions.to_pylist()
    if not data:
        return []
    results = [SimpleNamespace(text=r["repaired"], edits=json.loads(r["edits"])) for r in data]
    latency_ms = seconds * 1000 / len(data)
    version = data[0]["model_version"]
    return prediction_rows([r["input"] for r in data], results, latency_ms, path, version)


def _per_row(latencies_ms: float | Sequence[float], n: int) -> list[float]:
    if isinstance(latencies_ms, int | float):
        return [float(latencies_ms)] * n
    latencies = [float(value) for value in latencies_ms]
    if len(latencies) != n:
        raise ValueError(f"{n} inputs but {len(latencies)} latencies")
    return latencies


def _row(
    text: str, result: Any, latency: float, path: str, version: str, when: dt.datetime
) -> dict[str, Any]:
    shares = char_class_shares(text)
    return {
        "timestamp": when,
        "path": path,
        "model_version": version,
        "input_length": len(text),
        "edits": len(result.edits),
        "damage_rate": damage_rate(text, result.text),
        "changed": result.text != text,
        "latency_ms": latency,
        **{f"share_{name}": shares[name] for name in CHAR_CLASSES},
    }


def append_predictions(
    rows: Sequence[Mapping[str, Any]],
    uri: str,
    *,
    storage_options: dict[str, str] | None = None,
) -> int | None:
    """Append rows to the log in one commit; returns the table version (None for no rows)."""
    if not rows:
        return None
    table = pa.Table.from_pylist(list(rows), schema=PREDICTION_LOG_SCHEMA)
    return tables.write_arrow(table, uri, mode="append", storage_options=storage_options)


class PredictionLogWriter:
    """Buffers log rows and commits them on its own thread; `log` never waits for the lake.

    A failed commit puts its batch in the spill file and backs off (retry_seconds doubles from
    its first to its second value); the next commit first replays the spill file, exactly once.
    Rows past `max_buffer_rows` (the lake is slow or down) go to the spill file at once. Rows
    that cannot even be spilled (a full disk) are dropped and counted in `stats()`.
    """

    def __init__(
        self,
        uri: str,
        *,
        spill_file: str | Path,
        flush_rows: int = 100,
        flush_seconds: float = 5.0,
        max_buffer_rows: int = 10_000,
        retry_seconds: tuple[float, float] = (0.5, 30.0),
        storage_options: dict[str, str] | None = None,
    ) -> None:
        if flush_rows < 1 or flush_seconds <= 0 or max_buffer_rows < flush_rows:
            raise ValueError(
                "need flush_rows >= 1, flush_seconds > 0, max_buffer_rows >= flush_rows"
            )
        self.uri, self.storage_options = uri, storage_options
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self.max_buffer_rows, self.retry_seconds = max_buffer_rows, retry_seconds
        # Names this writer's Delta application transactions: (app_id, seq) commits exactly once.
        self.app_id = f"textrepair-prediction-log-{uuid.uuid4().hex}"
        self._seq = 0
        self._spill = SpillFile(spill_file)
        self._buffer: list[Mapping[str, Any]] = []
        self._oldest: float | None = None  # monotonic time the oldest buffered row arrived
        self._wake = threading.Condition()  # guards the buffer and `_closed`
        self._closed = False
        self._failures = 0  # consecutive failed commits or replays
        self._retry_at = 0.0
        self._counts = dict.fromkeys(WRITER_COUNTS, 0)
        self._counts_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: Settings) -> PredictionLogWriter:
        """A writer on the configured log table, with the `monitor:` buffering settings."""
        monitor = settings.monitor
        return cls(
            log_uri(settings),
            spill_file=monitor.spill_file,
            flush_rows=monitor.flush_rows,
            flush_seconds=monitor.flush_seconds,
            max_buffer_rows=monitor.max_buffer_rows,
            retry_seconds=(monitor.retry_min_seconds, monitor.retry_max_seconds),
            storage_options=settings.storage.storage_options,
        )

    def log(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Buffer rows for the writer thread. Never commits; at most appends to the spill file
        (when the buffer is over its cap or the writer is closed)."""
        rows = list(rows)
        overflow: list[Mapping[str, Any]] = []
        with self._wake:
            if self._closed:
                overflow = rows  # the next start replays them
            else:
                if rows and self._oldest is None:
                    self._oldest = time.monotonic()
                self._buffer.extend(rows)
                if len(self._buffer) > self.max_buffer_rows:
                    overflow, self._buffer, self._oldest = self._buffer, [], None
                elif len(self._buffer) >= self.flush_rows:
                    self._wake.notify()
        if overflow:
            self._spill_rows(overflow)

    def pending(self) -> int:
        """Rows buffered in memory, not yet committed or spilled."""
        with self._wake:
            return len(self._buffer)

    def stats(self) -> dict[str, int]:
        """Counters since start (WRITER_COUNTS) plus `buffered_rows`."""
        with self._counts_lock:
            counts = dict(self._counts)
        return {**counts, "buffered_rows": self.pending()}

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit (or spill) what is buffered and stop the thread. Idempotent.

        If a commit hangs past `timeout`, the rows still buffered are spilled and the thread is
        left to finish (it is a daemon)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("prediction log: a commit to %s hangs; spilling what is buffered", self.uri)
            self._spill_rows(self._take())

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the writer thread
    def _run(self) -> None:
        while self._wait_until_due():
            self._drain()
        self._drain(final=True)

    def _wait_until_due(self) -> bool:
        """Sleep until there is work and no back-off pending; False once closed."""
        tick = min(self.flush_seconds / 4, 0.25)
        with self._wake:
            while not self._closed:
                if self._due():
                    return True
                self._wake.wait(tick)
            return False

    def _due(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        old = self._oldest is not None and now - self._oldest >= self.flush_seconds
        return len(self._buffer) >= self.flush_rows or old or self._spill.has_batches()

    def _drain(self, final: bool = False) -> None:
        """Replay the spill file, then commit the buffer; on failure spill and back off."""
        try:
            self._replay()
        except Exception as error:
            self._failed("replay the spill file", error)
            if final:  # keep everything on disk for the next start
                self._spill_rows(self._take())
            return
        rows = self._take()
        if not rows:
            return
        seq = self._next_seq()
        try:
            self._commit(rows, self.app_id, seq)
        except Exception as error:
            self._failed(f"append {len(rows)} rows", error)
            # In doubt (it may have landed): replay skips it then, by its transaction.
            self._spill_rows(rows, self.app_id, seq)
            return
        self._failures, self._retry_at = 0, 0.0
        self._count("committed_rows", len(rows))

    def _replay(self) -> None:
        path = self._spill.claim()
        if path is None:
            return
        batches = self._spill.read(path)
        untried = [batch for batch in batches if batch.seq is None]
        for batch in untried:  # numbered after every batch tried so far: replayed last
            batch.app_id, batch.seq = self.app_id, self._next_seq()
        if untried:
            self._spill.rewrite(path, batches)
        for batch in sorted(batches, key=lambda b: (b.app_id, b.seq)):
            if self._commit(batch.rows, batch.app_id, batch.seq):
                self._count("replayed_rows", len(batch.rows))
        path.unlink()
        self._failures, self._retry_at = 0, 0.0

    def _commit(self, rows: Sequence[Mapping[str, Any]], app_id: str, seq: int) -> bool:
        table = pa.Table.from_pylist(list(rows), schema=PREDICTION_LOG_SCHEMA)
        return tables.append_arrow_once(
            table, self.uri, app_id=app_id, txn_version=seq, storage_options=self.storage_options
        )

    def _take(self) -> list[Mapping[str, Any]]:
        with self._wake:
            rows, self._buffer, self._oldest = self._buffer, [], None
        return rows

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _failed(self, action: str, error: Exception) -> None:
        self._count("failed_commits", 1)
        self._failures += 1
        first, most = self.retry_seconds
        delay = min(most, first * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        log.warning(
            "prediction log: cannot %s to %s (%s: %s); retrying in %.1f s",
            action, self.uri, type(error).__name__, error, delay,
        )  # fmt: skip

    def _spill_rows(
        self, rows: list[Mapping[str, Any]], app_id: str | None = None, seq: int | None = None
    ) -> None:
        if not rows:
            return
        try:
            self._spill.append(SpilledBatch([dict(r) for r in rows], app_id, seq))
        except OSError:
            log.exception("prediction log: cannot spill %d rows; they are dropped", len(rows))
            self._count("dropped_rows", len(rows))
            return
        self._count("spilled_rows", len(rows))

    def _count(self, name: str, value: int) -> None:
        with self._counts_lock:
            self._counts[name] += value


def read_window(
    uri: str,
    *,
    last_rows: int = 0,
    last_hours: float = 0,
    now: dt.datetime | None = None,
    storage_options: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The most recent rows of the log (the last `last_rows`, within `last_hours`; 0: no limit).

    Raises `tables.TableNotFoundError` when no log exists.
    """
    frame = tables.read_arrow(uri, storage_options=storage_options).to_pandas()
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if last_hours > 0:
        since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=last_hours)
        frame = frame[frame["timestamp"] >= since]
    if last_rows > 0:
        frame = frame.tail(last_rows)
    return frame.reset_index(drop=True)
