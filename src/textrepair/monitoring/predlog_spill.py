"""The prediction log's spill file: rows the lake could not take wait on local disk.

One JSON line per batch of rows, appended (never edited in place) at `path`. A batch whose commit
was tried carries the writer's (app_id, seq): the commit and that Delta application transaction
land together, so a replay skips a batch that landed after all (a commit that failed late).

Replay claims the file by renaming it to `<path>.replaying`; new spills start a new file. Before
any row of a claimed file is committed, every batch in it gets an (app_id, seq) and the file is
rewritten atomically, so a replay cut short and started again commits each batch exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_TIMESTAMP = "timestamp"  # the one column JSON cannot carry as is


@dataclass
class SpilledBatch:
    rows: list[dict[str, Any]]
    app_id: str | None = None  # both None: no commit was tried yet
    seq: int | None = None


class SpillFile:
    """Append-only batches of log rows at `path`, claimed whole for replay."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.claimed = self.path.with_name(self.path.name + ".replaying")
        self._lock = threading.Lock()  # appends and the claiming rename never interleave

    def append(self, batch: SpilledBatch) -> None:
        """Write `batch` durably (fsync); raises OSError (e.g. a full disk) if it cannot."""
        line = json.dumps(_encode(batch), ensure_ascii=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line)
                file.flush()
                os.fsync(file.fileno())

    def has_batches(self) -> bool:
        return self.claimed.exists() or self.path.exists()

    def claim(self) -> Path | None:
        """The file to replay: one left claimed by an unfinished replay, else the current one."""
        with self._lock:
            if not self.claimed.exists():
                if not self.path.exists():
                    return None
                self.path.rename(self.claimed)
            return self.claimed

    @staticmethod
    def read(path: Path) -> list[SpilledBatch]:
        batches = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                batches.append(_decode(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                # Only a crash in the middle of an append leaves such a line: its rows were never
                # acknowledged as spilled.
                log.error("prediction log spill %s: line %d is unreadable, skipped", path, number)
        return batches

    @staticmethod
    def rewrite(path: Path, batches: list[SpilledBatch]) -> None:
        """Replace `path` with `batches` atomically (write aside, fsync, rename)."""
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as file:
            for batch in batches:
                file.write(json.dumps(_encode(batch), ensure_ascii=True) + "\n")
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)


def _encode(batch: SpilledBatch) -> dict[str, Any]:
    rows = [{**row, _TIMESTAMP: row[_TIMESTAMP].isoformat()} for row in batch.rows]
    return {"app_id": batch.app_id, "seq": batch.seq, "rows": rows}


def _decode(record: dict[str, Any]) -> SpilledBatch:
    rows = [
        {**row, _TIMESTAMP: dt.datetime.fromisoformat(row[_TIMESTAMP])} for row in record["rows"]
    ]
    return SpilledBatch(rows, record["app_id"], record["seq"])
