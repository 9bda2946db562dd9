"""The prediction log: one Delta row per repaired text, from every prediction path.

Public API (everything else is private):

    rows = prediction_rows(inputs, results, latencies_ms, path="api", model_version="3")
        Pure: turns inputs and their `RepairResult`s (anything with `.text` and `.edits`) into
        log rows. `latencies_ms` is one number per input, or one number for all of them.
    append_predictions(rows, uri)
        One-shot append (batch job, each stream micro-batch). Returns the new table version.
    writer = PredictionLogWriter(uri, flush_rows=100, flush_seconds=5.0)
    writer = PredictionLogWriter.from_settings(settings)      # the same, from `monitor:`
    writer.log(rows); ...; writer.close()
        Buffered, thread-safe appender for a web server: commits every `flush_rows` rows or when
        the oldest buffered row is `flush_seconds` old (a background thread watches the clock),
        and on `flush()`/`close()` (also a context manager).
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
other>`. The text itself is never stored. Rows go through `textrepair.tables`, like every table.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from textrepair import tables
from textrepair.textfeatures import CHAR_CLASSES, char_class_shares, damage_rate

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
# A server whose log table is unreachable keeps at most this many flushes' worth of rows, then
# drops the oldest: losing log rows is better than exhausting memory or failing requests.
_MAX_PENDING_FLUSHES = 20


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
    """Buffers log rows and appends them in batches; safe to call from many threads."""

    def __init__(
        self,
        uri: str,
        *,
        flush_rows: int = 100,
        flush_seconds: float = 5.0,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        if flush_rows < 1 or flush_seconds <= 0:
            raise ValueError("flush_rows must be >= 1 and flush_seconds > 0")
        self.uri, self.storage_options = uri, storage_options
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self._buffer: list[Mapping[str, Any]] = []
        self._oldest: float | None = None  # monotonic time the oldest buffered row arrived
        self._lock = threading.Lock()  # guards the buffer
        self._write_lock = threading.Lock()  # one commit at a time keeps rows in order
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._watch, name="prediction-log", daemon=True)
        self._timer.start()

    @classmethod
    def from_settings(cls, settings: Settings) -> PredictionLogWriter:
        """A writer on the configured log table with monitor.flush_rows / flush_seconds."""
        return cls(
            log_uri(settings),
            flush_rows=settings.monitor.flush_rows,
            flush_seconds=settings.monitor.flush_seconds,
            storage_options=settings.storage.storage_options,
        )

    def log(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Buffer rows; commits in the caller's thread once `flush_rows` are waiting."""
        if self._closed.is_set():
            raise RuntimeError("the prediction log writer is closed")
        with self._lock:
            rows = list(rows)
            if rows and self._oldest is None:
                self._oldest = time.monotonic()
            self._buffer.extend(rows)
            full = len(self._buffer) >= self.flush_rows
        if full:
            self.flush()

    def flush(self) -> int | None:
        """Commit everything buffered now; returns the table version (None if nothing to do)."""
        with self._write_lock:
            with self._lock:
                rows, self._buffer, self._oldest = self._buffer, [], None
            if not rows:
                return None
            try:
                return append_predictions(rows, self.uri, storage_options=self.storage_options)
            except Exception:
                # A failing log must not fail predictions: keep the rows for the next try.
                log.exception("prediction log: cannot append %d rows to %s", len(rows), self.uri)
                self._requeue(rows)
                return None

    def _requeue(self, rows: list[Mapping[str, Any]]) -> None:
        with self._lock:
            self._buffer = rows + self._buffer
            limit = self.flush_rows * _MAX_PENDING_FLUSHES
            if len(self._buffer) > limit:
                log.error("prediction log: dropping %d rows", len(self._buffer) - limit)
                self._buffer = self._buffer[-limit:]
            self._oldest = time.monotonic()

    def pending(self) -> int:
        """Rows buffered and not yet committed."""
        with self._lock:
            return len(self._buffer)

    def close(self) -> None:
        """Stop the timer and commit what is left. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._timer.join()
        self.flush()

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _watch(self) -> None:
        # Checks the age of the oldest row several times per period, so a quiet server still
        # commits its last rows within about flush_seconds.
        tick = min(self.flush_seconds / 4, 1.0)
        while not self._closed.wait(tick):
            with self._lock:
                due = (
                    self._oldest is not None
                    and time.monotonic() - self._oldest >= self.flush_seconds
                )
            if due:
                self.flush()


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
