"""The stream's producer: corrupted gold/test samples written into the landing folder at a rate.

Each file is written under a hidden name and renamed, so the stream never reads half a file; with
the predictions table given, the producer reports each file's end-to-end latency.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from textrepair.config import Settings
from textrepair.data import tables
from textrepair.data.gold import gold_rows


def run(
    settings: Settings,
    *,
    count: int,
    seed: int,
    prefix: str,
    landing: str | None = None,
    table: str | None = None,
    rate: float | None = None,
    rows_per_file: int | None = None,
    wait_seconds: float = 60.0,
    echo: Callable[[str], None] = print,
) -> ProduceResult:
    """Write `count` samples into the landing folder (default: stream.landing) at `rate`."""
    from textrepair.stages.stream import resolve_paths

    paths = resolve_paths(settings, landing=landing, table=table)
    return produce(
        sample_texts(settings, count, seed),
        Path(paths.landing),
        rate=rate or settings.stream.rate,
        rows_per_file=rows_per_file or settings.stream.rows_per_file,
        prefix=prefix,
        table=paths.table if wait_seconds > 0 else None,
        wait_seconds=wait_seconds,
        storage_options=settings.storage.storage_options,
        echo=echo,
    )


@dataclass
class ProduceResult:
    files: int = 0
    rows: int = 0
    latencies: dict[str, float] = field(default_factory=dict)  # file name -> seconds
    batches: dict[str, int] = field(default_factory=dict)  # file name -> micro-batch id
    unseen: list[str] = field(default_factory=list)


def sample_texts(settings: Settings, count: int, seed: int) -> list[tuple[str, str]]:
    """(gold id, corrupted text) of `count` gold/test rows drawn with `seed` (cycling if needed)."""
    gold = gold_rows(settings, ("test",), columns=("id", "corrupted"))
    rows = [(row["id"], row["corrupted"]) for row in gold]
    if not rows:
        raise ValueError("gold has no test rows to sample from")
    random.Random(seed).shuffle(rows)
    return [rows[i % len(rows)] for i in range(count)]


def write_landing_file(landing: Path, name: str, records: list[dict[str, Any]]) -> Path:
    """Write JSON lines under a hidden name, then rename: the stream never sees half a file."""
    landing.mkdir(parents=True, exist_ok=True)
    tmp = landing / f".{name}.tmp"  # the file source ignores names starting with a dot
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    target = landing / name
    os.replace(tmp, target)
    return target


def produce(
    samples: list[tuple[str, str]],
    landing: Path,
    *,
    rate: float,
    rows_per_file: int,
    prefix: str,
    table: str | None = None,
    wait_seconds: float = 60.0,
    storage_options: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
) -> ProduceResult:
    """Write `samples` as landing files at `rate` rows/s; with `table`, report each file's
    end-to-end latency: from the file's write time to its rows being readable in `table`."""
    result = ProduceResult()
    chunks = [samples[i : i + rows_per_file] for i in range(0, len(samples), rows_per_file)]
    interval = rows_per_file / rate
    watcher = _LatencyWatcher(table, storage_options) if table else None
    pending: dict[str, float] = {}
    started = time.time()
    for number, chunk in enumerate(chunks):
        _sleep_until(started + number * interval, watcher, pending, result, echo)
        name = f"{prefix}-{number:05d}.jsonl"
        records = [
            {"id": f"{prefix}-{number * rows_per_file + i:06d}", "text": text, "gold_id": gold_id}
            for i, (gold_id, text) in enumerate(chunk)
        ]
        path = write_landing_file(landing, name, records)
        pending[name] = path.stat().st_mtime
        result.files += 1
        result.rows += len(records)
        echo(f"produce: wrote {name} ({len(records)} rows)")
    if watcher:
        _sleep_until(
            time.time() + wait_seconds, watcher, pending, result, echo, stop_when_seen=True
        )
    result.unseen = sorted(pending) if watcher else []
    echo(produce_summary(result))
    return result


class _LatencyWatcher:
    """Polls the predictions table for the landing files whose rows have been committed."""

    def __init__(self, table: str, storage_options: dict[str, str] | None) -> None:
        self.table, self.options = table, storage_options
        self.version: int | None = None
        self.seen: dict[str, int] = {}  # file name -> batch id

    def poll(self) -> dict[str, int]:
        version = tables.table_version(self.table, self.options)
        if version is not None and version != self.version:
            self.version = version
            data = tables.read_arrow(
                self.table, columns=["source_file", "batch_id"], storage_options=self.options
            )
            files = data.column("source_file").to_pylist()
            batches = data.column("batch_id").to_pylist()
            self.seen = {
                unquote(f.rsplit("/", 1)[-1]): b for f, b in zip(files, batches, strict=True)
            }
        return self.seen


def _sleep_until(
    until: float,
    watcher: _LatencyWatcher | None,
    pending: dict[str, float],
    result: ProduceResult,
    echo: Callable[[str], None],
    *,
    stop_when_seen: bool = False,
) -> None:
    """Wait until `until`, recording the latency of pending files as they show up."""
    while True:
        if watcher and pending:
            _record_seen(watcher, pending, result, echo)
        left = until - time.time()
        if left <= 0 or (stop_when_seen and not pending):
            return
        time.sleep(min(0.2, left))


def _record_seen(
    watcher: _LatencyWatcher,
    pending: dict[str, float],
    result: ProduceResult,
    echo: Callable[[str], None],
) -> None:
    seen = watcher.poll()
    now = time.time()
    for name in [n for n in pending if n in seen]:
        result.latencies[name] = now - pending.pop(name)
        result.batches[name] = seen[name]
        echo(
            f"produce: {name} in predictions (batch {seen[name]}) "
            f"{result.latencies[name]:.2f}s after it was written"
        )


def produce_summary(result: ProduceResult) -> str:
    text = f"produce: {result.rows} rows in {result.files} files"
    if result.latencies:
        values = sorted(result.latencies.values())
        by_batch: dict[int, float] = {}
        for name, batch in result.batches.items():
            by_batch[batch] = max(by_batch.get(batch, 0.0), result.latencies[name])
        text += (
            f"; end-to-end latency per file p50 {statistics.median(values):.2f}s, "
            f"max {values[-1]:.2f}s over {len(values)} files in {len(by_batch)} batches"
        )
    if result.unseen:
        text += f"; {len(result.unseen)} files not in the table yet: {result.unseen[:3]}"
    return text
