"""Structured Streaming: JSON lines dropped in a landing folder, repaired into a Delta table.

    landing/*.jsonl ─▶ file source (text lines, maxFilesPerTrigger) ─▶ foreachBatch:
        mapInPandas: parse each line (bad ones get a reason) and repair the good ones with the
        Repairer loaded once per Python worker ─▶ predictions + quarantine, each appended once

Exactly-once: Spark's checkpoint replays an unfinished micro-batch with the same files and the
same batch id after a crash. Each append commits the Delta application transaction
(app id = the streaming query id, version = batch id) atomically with its rows, and a replayed
batch whose transaction is already in a table is not written again (`tables.append_once`); a
second driver writing the same batch at the same time loses the commit race and skips it.

`produce` is the demo feed: it writes corrupted gold/test samples into the landing folder at a
given rate and reports how long each file took to show up in the predictions table.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from textrepair.config import Settings, StreamConfig
from textrepair.data import tables
from textrepair.data.spark import spark_schema
from textrepair.monitoring.predlog import log_uri
from textrepair.scoring import (
    PREDICTION_SCHEMA,
    ScoringModel,
    log_scored,
    predict_frame,
    worker_repairer,
)

log = logging.getLogger(__name__)

# Why a landing line is quarantined instead of scored (the quarantine table's `reason`).
REASONS = (
    "bad_encoding",  # its bytes are not UTF-8 (a binary or mis-encoded file)
    "bad_json",
    "too_deep",  # nested past Python's recursion limit
    "bad_number",  # a number no float or int holds (1e999, over 4300 digits), NaN or Infinity
    "not_an_object",
    "missing_id",
    "bad_id",
    "missing_text",
    "non_string_text",
    "bad_unicode",  # a lone surrogate (a "\ud800" escape) in the id or text: not valid UTF-8
    "oversize_text",
    "unscorable",  # the model raised on this line
    "parse_error",  # anything else the parser raised: one line never stops the stream
    "symlink_outside_landing",  # its file links out of the landing folder: content not kept
)
RAW_CHARS = 1000  # quarantined lines keep at most this much of the raw line
DETAIL_CHARS = 200
# What the parser emits: prediction columns for good lines, reason/detail/raw for bad ones.
_SCORED_SCHEMA = pa.schema(
    [
        *PREDICTION_SCHEMA,
        ("source_file", pa.string()),
        ("landed_at", pa.timestamp("us", tz="UTC")),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
    ]
)
PREDICTION_COLUMNS = [*PREDICTION_SCHEMA.names, "source_file", "landed_at", "batch_id"]
QUARANTINE_COLUMNS = ["id", "reason", "detail", "raw", "source_file", "landed_at", "batch_id"]


@dataclass(frozen=True)
class StreamPaths:
    landing: str
    table: str
    quarantine: str
    checkpoint: str
    metrics_file: str


# ------------------------------------------------------------------------------------ parsing
class ParsedLine(NamedTuple):
    """One landing line: id and text for a good line; reason and detail for a bad one."""

    id: str | None
    text: str | None
    reason: str  # '' for a good line, else one of REASONS
    detail: str


class _BadNumberError(ValueError):
    """A JSON number that no Python float or int holds."""


def parse_line(line: str | bytes | None, max_chars: int) -> ParsedLine:
    """Parse one landing line (UTF-8 bytes, or already decoded); never raises."""
    try:
        return _parse(line, max_chars)
    except Exception as error:  # whatever a hostile line triggers, it is that line's problem
        return ParsedLine(None, None, "parse_error", _detail(error))


def _parse(line: str | bytes | None, max_chars: int) -> ParsedLine:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            return ParsedLine(None, None, "bad_encoding", _detail(error))
    try:
        record = _loads((line or "").removeprefix("\ufeff"))  # a UTF-8 BOM opens some files
    except _BadNumberError as error:
        return ParsedLine(None, None, "bad_number", _detail(error))
    except RecursionError:
        return ParsedLine(None, None, "too_deep", "JSON nested deeper than the parser allows")
    except ValueError as error:
        return ParsedLine(None, None, "bad_json", _detail(error))
    if not isinstance(record, dict):
        detail = f"a JSON {type(record).__name__}, not an object"
        return ParsedLine(None, None, "not_an_object", detail)
    return _fields(record, max_chars)


def _fields(record: dict[str, Any], max_chars: int) -> ParsedLine:
    raw_id = record.get("id")
    if raw_id is None or raw_id == "":
        return ParsedLine(None, None, "missing_id", "no 'id' (or it is null or empty)")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        detail = f"'id' is a {type(raw_id).__name__}, not a string or integer"
        return ParsedLine(None, None, "bad_id", detail)
    row_id, text = str(raw_id), record.get("text")
    # Checked here, not left to Arrow: a string it cannot encode fails the whole micro-batch.
    if not _encodable(row_id):
        return ParsedLine(None, None, "bad_unicode", "'id' has a lone surrogate")
    if text is None:
        return ParsedLine(row_id, None, "missing_text", "no 'text' (or it is null)")
    if not isinstance(text, str):
        return ParsedLine(row_id, None, "non_string_text", f"'text' is a {type(text).__name__}")
    if not _encodable(text):
        return ParsedLine(row_id, None, "bad_unicode", "'text' has a lone surrogate")
    if len(text) > max_chars:
        detail = f"{len(text)} characters, limit {max_chars}"
        return ParsedLine(row_id, None, "oversize_text", detail)
    return ParsedLine(row_id, text, "", "")


def _loads(line: str) -> Any:
    return json.loads(
        line, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_not_a_number
    )


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _BadNumberError(f"{token[:40]} overflows a float")
    return value


def _bounded_int(token: str) -> int:
    try:
        return int(token)
    except ValueError as error:  # past Python's limit on integer digits
        raise _BadNumberError(f"an integer of {len(token)} digits") from error


def _not_a_number(token: str) -> float:
    raise _BadNumberError(f"{token} is not a JSON number")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _detail(error: BaseException) -> str:
    return _printable(f"{type(error).__name__}: {error}"[:DETAIL_CHARS])


def _printable(text: str) -> str:
    """`text` with lone surrogates escaped, so Arrow can always encode it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _raw(line: str | bytes | None) -> str:
    """What the quarantine keeps of a line: its start, decoded as far as it decodes."""
    if isinstance(line, bytes):
        return line[: RAW_CHARS * 4].decode("utf-8", "replace")[:RAW_CHARS]
    return _printable((line or "")[:RAW_CHARS])


def parse_and_score(
    model: ScoringModel, max_chars: int, landing: str | None = None
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The mapInPandas function: landing lines in, _SCORED_SCHEMA rows out. With `landing`,
    lines of files that are symlinks leading out of that folder are quarantined unread."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield _score_lines(batch, model, max_chars, landing)

    return run


def _score_lines(
    batch: pd.DataFrame, model: ScoringModel, max_chars: int, landing: str | None = None
) -> pd.DataFrame:
    lines, files = batch["value"].tolist(), batch["source_file"].tolist()
    escaped = _links_out_of(landing, set(files))
    # The file source follows symlinks: what a link out of the folder points at is neither
    # scored nor kept (not even as `raw`), so a link cannot copy files of the machine to a table.
    lines = [None if file in escaped else line for line, file in zip(lines, files, strict=True)]
    parsed = [
        _ESCAPED if file in escaped else parse_line(line, max_chars)
        for line, file in zip(lines, files, strict=True)
    ]
    good = [i for i, line in enumerate(parsed) if not line.reason]
    frames = []
    if good:
        predicted, failed = _predict(parsed, good, model)
        for i, detail in failed.items():
            parsed[i] = ParsedLine(parsed[i].id, None, "unscorable", detail)
        frames += [predicted] if predicted is not None else []
    bad = [i for i, line in enumerate(parsed) if line.reason]
    if bad:
        frames.append(
            pd.DataFrame(
                {
                    "id": [parsed[i].id for i in bad],
                    "reason": [parsed[i].reason for i in bad],
                    "detail": [parsed[i].detail for i in bad],
                    "raw": [_raw(lines[i]) for i in bad],
                },
                index=bad,
            )
        )
    out = pd.concat(frames).sort_index() if frames else pd.DataFrame(index=batch.index[:0])
    # Plain numpy-backed columns: Spark may hand input columns over Arrow-backed, and an Arrow
    # column copied to the output comes back as a ChunkedArray that Spark cannot serialise.
    landed = batch["landed_at"].tolist()
    out["source_file"] = pd.Series([files[i] for i in out.index], index=out.index, dtype=object)
    out["landed_at"] = pd.to_datetime(
        pd.Series([landed[i] for i in out.index], index=out.index, dtype=object), utc=True
    )
    return _typed(out.reindex(columns=_SCORED_SCHEMA.names))


_ESCAPED = ParsedLine(
    None, None, "symlink_outside_landing", "its file is a symlink leading out of the landing folder"
)


def _links_out_of(landing: str | None, files: set[str]) -> set[str]:
    """The local files among `files` (file: URIs) that are symlinks resolving outside `landing`."""
    if landing is None or ("://" in landing and not landing.startswith("file:")):
        return set()  # object stores have no symlinks
    root = _local_path(landing).resolve()
    return {f for f in files if f.startswith("file:") and _links_out(_local_path(f), root)}


def _local_path(uri: str) -> Path:
    return Path(unquote(urlsplit(uri).path)) if uri.startswith("file:") else Path(uri)


def _links_out(path: Path, root: Path) -> bool:
    try:
        return path.is_symlink() and not path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return True


def _predict(
    parsed: list[ParsedLine], good: list[int], model: ScoringModel
) -> tuple[pd.DataFrame | None, dict[int, str]]:
    """Prediction rows of the good lines (indexed by line number), and the lines the model
    raised on (line number -> detail). A batch that fails is retried line by line, so a line
    that breaks the model is quarantined instead of failing the micro-batch."""
    repairer = worker_repairer(model)
    try:
        frame = predict_frame(
            [parsed[i].id for i in good], [parsed[i].text for i in good], repairer, model.version
        )
    except Exception:
        log.warning("stream: scoring %d lines failed; scoring them one by one", len(good))
    else:
        frame.index = good
        return frame, {}
    frames, failed = [], {}
    for i in good:
        try:
            one = predict_frame([parsed[i].id], [parsed[i].text], repairer, model.version)
        except Exception as error:
            failed[i] = _detail(error)
        else:
            one.index = [i]
            frames.append(one)
    return (pd.concat(frames) if frames else None), failed


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    # Columns no row filled (all good or all bad lines) are float NaN after reindex, which Arrow
    # cannot turn into strings or timestamps: give every column its schema's kind.
    for name, kind in zip(_SCORED_SCHEMA.names, _SCORED_SCHEMA.types, strict=True):
        column = frame[name]
        if pa.types.is_timestamp(kind):
            frame[name] = pd.to_datetime(column, utc=True)
        else:
            frame[name] = column.astype(object).where(column.notna(), None)
    return frame


# --------------------------------------------------------------------------------------- sink
@dataclass
class StreamTotals:
    batches: int = 0
    replayed_batches_skipped: int = 0
    lines: int = 0
    predictions: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


class ExactlyOnceSink:
    """foreachBatch: score one micro-batch and append it to both tables exactly once."""

    def __init__(
        self,
        model: ScoringModel,
        paths: StreamPaths,
        config: StreamConfig,
        storage_options: dict[str, str],
        echo: Callable[[str], None] = print,
        log_uri: str | None = None,
    ) -> None:
        self.model, self.paths, self.config = model, paths, config
        self.log_uri = log_uri  # the prediction log; None: not logged
        self.options, self.echo = storage_options, echo
        self.totals = StreamTotals()
        self.last_batch: dict[str, Any] = {}

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.time()
        spark = batch.sparkSession
        query_id = spark.sparkContext.getLocalProperty("sql.streaming.queryId")
        if not query_id:
            raise RuntimeError("foreachBatch ran outside a streaming query: no query id")
        app_id = f"textrepair-stream-{query_id}"
        self.echo(f"stream: batch {batch_id} started")
        if self._committed(app_id, batch_id):
            self.totals.replayed_batches_skipped += 1
            self.echo(f"stream: batch {batch_id} was already committed (replay): skipped")
            return
        # The lines' bytes, undecoded: the file source does not check UTF-8, and a string column
        # holding invalid UTF-8 fails the whole batch on its way to Python.
        lines = batch.withColumn("value", F.col("value").cast("binary"))
        scored = lines.mapInPandas(
            parse_and_score(self.model, self.config.max_text_chars, self.paths.landing),
            spark_schema(_SCORED_SCHEMA),
        ).withColumn("batch_id", F.lit(batch_id).cast("long"))
        scored = scored.persist()  # scored once, written to two tables
        try:
            good = scored.where(F.col("reason").isNull()).select(*PREDICTION_COLUMNS)
            bad = scored.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
            for name, frame, uri in (
                ("predictions", good, self.paths.table),
                ("quarantine", bad, self.paths.quarantine),
            ):
                self._append(batch_id, app_id, name, frame, uri)
            committed = time.time()
            self._log_predictions(good, committed - started)
            landed = good.select("landed_at").toArrow().column(0).to_pylist()
            reasons = {r["reason"]: r["count"] for r in bad.groupBy("reason").count().collect()}
        finally:
            scored.unpersist()
        self._record(batch_id, started, committed, landed, reasons, spark)

    def _append(self, batch_id: int, app_id: str, name: str, frame: DataFrame, uri: str) -> None:
        written = tables.append_once(
            frame, uri, app_id=app_id, txn_version=batch_id, storage_options=self.options
        )
        if written:
            self.echo(f"stream: batch {batch_id}: appended to {name}")
        else:  # a crash came after this table's commit and before Spark's checkpoint
            self.echo(f"stream: batch {batch_id}: already in {name} (replay): not written again")

    def _log_predictions(self, good: DataFrame, seconds: float) -> None:
        # After the exactly-once appends: a crash in between loses this batch's log rows (the
        # replay is skipped), it never counts them twice. The log is for monitoring, not billing.
        if self.log_uri is not None:
            log_scored(good, self.log_uri, seconds, "stream", self.options)

    def _committed(self, app_id: str, batch_id: int) -> bool:
        versions = [
            tables.committed_transaction(uri, app_id, self.options)
            for uri in (self.paths.table, self.paths.quarantine)
        ]
        return all(v is not None and v >= batch_id for v in versions)

    def _record(
        self,
        batch_id: int,
        started: float,
        committed: float,
        landed: list[Any],
        reasons: dict[str, int],
        spark: SparkSession,
    ) -> None:
        latencies = sorted(committed - stamp.timestamp() for stamp in landed)
        quarantined = sum(reasons.values())
        lines = len(landed) + quarantined
        duration = committed - started
        totals = self.totals
        totals.batches += 1
        totals.lines += lines
        totals.predictions += len(landed)
        totals.quarantined += quarantined
        for reason, count in reasons.items():
            totals.quarantine_reasons[reason] = totals.quarantine_reasons.get(reason, 0) + count
        self.last_batch = {
            "batch_id": batch_id,
            "lines": lines,
            "predictions": len(landed),
            "quarantined": quarantined,
            "duration_seconds": round(duration, 3),
            "rows_per_second": round(lines / duration, 2) if duration > 0 else 0.0,
            "latency_p50_seconds": _rounded(_percentile(latencies, 50)),
            "latency_max_seconds": _rounded(latencies[-1] if latencies else None),
            "committed_at": committed,
        }
        write_metrics(self.paths.metrics_file, self.snapshot(spark))
        self.echo(progress_line(self.last_batch, totals))

    def snapshot(self, spark: SparkSession | None = None) -> dict[str, Any]:
        """Everything the metrics file holds: this process's totals, last batch, Spark's view."""
        return {
            "model_version": self.model.version,
            "totals": asdict(self.totals),
            "last_batch": self.last_batch,
            "spark_last_progress": _spark_progress(spark),
            "updated_at": time.time(),
        }


def _percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, math.ceil(percent / 100 * len(values)) - 1)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _spark_progress(spark: SparkSession | None) -> dict[str, Any]:
    """Spark's own numbers for the previous micro-batch of the active query, if any."""
    if spark is None:
        return {}
    for query in spark.streams.active:
        progress = query.lastProgress
        if progress:
            return {
                "batch_id": progress.get("batchId"),
                "input_rows_per_second": progress.get("inputRowsPerSecond"),
                "processed_rows_per_second": progress.get("processedRowsPerSecond"),
                "trigger_ms": (progress.get("durationMs") or {}).get("triggerExecution"),
            }
    return {}


def progress_line(batch: dict[str, Any], totals: StreamTotals) -> str:
    latency = (
        f"latency p50 {batch['latency_p50_seconds']:.2f}s max {batch['latency_max_seconds']:.2f}s"
        if batch["latency_max_seconds"] is not None
        else "latency -"
    )
    return (
        f"stream: batch {batch['batch_id']} committed: {batch['predictions']} predictions, "
        f"{batch['quarantined']} quarantined in {batch['duration_seconds']:.2f}s "
        f"({batch['rows_per_second']:.1f} rows/s), {latency}; totals {totals.predictions} "
        f"predictions, {totals.quarantined} quarantined"
    )


def write_metrics(path: str, snapshot: dict[str, Any]) -> None:
    """The metrics as JSON and, beside it, in Prometheus' text format (a .prom textfile)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    _atomic_write(target.with_suffix(".prom"), prometheus_text(snapshot))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # readers never see half a file


def prometheus_text(snapshot: dict[str, Any]) -> str:
    totals, last = snapshot["totals"], snapshot["last_batch"]
    lines = [
        f"textrepair_stream_batches_total {totals['batches']}",
        f"textrepair_stream_replayed_batches_skipped_total {totals['replayed_batches_skipped']}",
        f"textrepair_stream_predictions_total {totals['predictions']}",
        f"textrepair_stream_quarantined_total {totals['quarantined']}",
    ]
    lines += [
        f'textrepair_stream_quarantined_by_reason_total{{reason="{reason}"}} {count}'
        for reason, count in sorted(totals["quarantine_reasons"].items())
    ]
    gauges = ("duration_seconds", "rows_per_second", "latency_p50_seconds", "latency_max_seconds")
    lines += [
        f"textrepair_stream_last_batch_{name} {last[name]}"
        for name in gauges
        if last.get(name) is not None
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ queries
def resolve_paths(settings: Settings, **overrides: str | None) -> StreamPaths:
    """Stream locations from settings, with command-line overrides (None keeps the setting)."""
    from textrepair.stages.batch import table_uri

    config = settings.stream
    values = {
        "landing": config.landing,
        "table": config.table,
        "quarantine": config.quarantine_table,
        "checkpoint": config.checkpoint,
        "metrics_file": config.metrics_file,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["table"] = table_uri(settings, values["table"])
    values["quarantine"] = table_uri(settings, values["quarantine"])
    return StreamPaths(**values)


def _spark_path(path: str) -> str:
    return path if "://" in path else "file://" + str(Path(path).absolute())


def start_stream(
    spark: SparkSession,
    settings: Settings,
    model: ScoringModel,
    paths: StreamPaths,
    *,
    available_now: bool = False,
    echo: Callable[[str], None] = print,
) -> tuple[StreamingQuery, ExactlyOnceSink]:
    """Start the query (non-blocking); with `available_now`, it stops when the landing is done."""
    config = settings.stream
    if "://" not in paths.landing:
        Path(paths.landing).mkdir(parents=True, exist_ok=True)
    lines = (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", config.max_files_per_trigger)
        .option("pathGlobFilter", "*.{json,jsonl}")
        .load(_spark_path(paths.landing))
        .select(
            "value",
            F.col("_metadata.file_path").alias("source_file"),
            F.col("_metadata.file_modification_time").alias("landed_at"),
        )
    )
    sink = ExactlyOnceSink(
        model, paths, config, settings.storage.storage_options, echo, log_uri=log_uri(settings)
    )
    writer = (
        lines.writeStream.foreachBatch(sink)
        .option("checkpointLocation", _spark_path(paths.checkpoint))
        .queryName("textrepair_stream")
    )
    if available_now:
        return writer.trigger(availableNow=True).start(), sink
    return writer.trigger(processingTime=config.trigger_interval).start(), sink


def run(
    spark: SparkSession,
    settings: Settings,
    model: ScoringModel,
    paths: StreamPaths,
    *,
    available_now: bool = False,
    timeout: float | None = None,
    echo: Callable[[str], None] = print,
) -> ExactlyOnceSink:
    """Run until the landing is drained (`available_now`), `timeout` seconds, or SIGINT/SIGTERM."""
    query, sink = start_stream(
        spark, settings, model, paths, available_now=available_now, echo=echo
    )
    stop = {"requested": False}

    def request_stop(signum: int, frame: Any) -> None:
        stop["requested"] = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while query.isActive and not stop["requested"]:
            if deadline is not None and time.monotonic() >= deadline:
                break
            query.awaitTermination(1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if query.isActive:
            echo("stream: stopping (the current micro-batch finishes or is replayed on restart)")
            query.stop()
    if query.exception() is not None:
        raise RuntimeError(f"the stream failed: {query.exception()}")
    return sink
