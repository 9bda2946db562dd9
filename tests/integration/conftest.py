"""Shared set-up for model tests: tiny-model params in tmp dirs, and a tiny gold table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from textrepair import tables
from textrepair.config import Settings, read_params
from textrepair.stages.corrupt import GOLD_SCHEMA, corrupt_rows

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"
WORDS = "the quick brown fox jumps over a lazy dog while seven wizards vex chumps".split()  # noqa: SIM905


def _tiny_params(tmp: Path, experiment: str) -> dict:
    """Repository params with a tiny byte-T5, every path and URI under `tmp`."""
    params = read_params(REPO_PARAMS)
    params["storage"] = {"root": str(tmp / "lake")}
    params["gold"].update(validation_fraction=0.2, test_fraction=0.3)
    params["model"].update(family="byt5", size="tiny", init_from=None)
    params["train"].update(batch_size=8, eval_rows=8, epochs=1, release=None)
    params["train_output_dir"] = str(tmp / "train")
    params["mlflow"] = {
        "tracking_uri": f"sqlite:///{tmp}/mlflow.db",
        "artifact_root": str(tmp / "mlartifacts"),
        "experiment": experiment,
    }
    return params


def _write_tiny_gold(settings: Settings, windows: int) -> None:
    """Corrupt `windows` short sentences with the engine and commit them as the gold table."""
    silver = [
        {"window_id": f"w{i:03d}", "text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(8))}
        for i in range(windows)
    ]
    rows = corrupt_rows(silver, settings)
    tables.write_arrow(pa.Table.from_pylist(rows, schema=GOLD_SCHEMA), settings.lake_path("gold"))


@pytest.fixture
def tiny_params():
    return _tiny_params


@pytest.fixture
def write_tiny_gold():
    return _write_tiny_gold
