"""A process that reads a Delta table exits cleanly, every time (issue 20).

Reading through `DeltaTable.to_pyarrow_table()` made the interpreter abort at exit in some runs
(SIGABRT, "terminate called without an active exception"): a rare failure, so only many fresh
processes show it. docs/experiments.md has the measured rates.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from textrepair.data.tables import write_arrow

pytestmark = [pytest.mark.slow, pytest.mark.soak]

RUNS = 50
# What the stages do with a table: the latest version, one version back, a few columns.
READER = """
import sys
from textrepair.data import tables
uri = sys.argv[1]
assert tables.read_arrow(uri).num_rows == 300
assert tables.read_arrow(uri, version=0, columns=["text", "id"]).num_rows == 100
"""


def _small_table(uri: str) -> None:
    for batch in range(3):  # three versions, three files per split
        ids = [f"{batch}-{i}" for i in range(100)]
        write_arrow(
            pa.table(
                {
                    "id": ids,
                    "text": [f"repaired text {i}" for i in ids],
                    "split": ["test" if i % 4 == 0 else "train" for i in range(100)],
                }
            ),
            uri,
            mode="append",
            partition_by=["split"],
        )


def test_reading_a_table_never_aborts_the_process_at_exit(tmp_path: Path) -> None:
    uri = str(tmp_path / "predictions")
    _small_table(uri)
    script = tmp_path / "read_table.py"
    script.write_text(READER, encoding="utf-8")

    exit_codes: Counter[int] = Counter()
    errors: list[str] = []
    for _ in range(RUNS):
        run = subprocess.run(
            [sys.executable, str(script), uri], capture_output=True, text=True, timeout=120
        )
        exit_codes[run.returncode] += 1
        if run.returncode != 0:
            errors.append(run.stderr.strip()[-300:])

    assert exit_codes == {0: RUNS}, f"exit codes {dict(exit_codes)}; last errors: {errors[-3:]}"
