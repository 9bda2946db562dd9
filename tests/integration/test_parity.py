"""Parity: the same inputs through every scoring path give identical repaired texts.

Each leg takes (context, rows) and returns {id: repaired}: the Repairer called directly, the API
(POST /v1/repair through FastAPI's TestClient), the Spark batch job and the stream. Every path
but the direct call also writes the prediction log, which is checked too.

All legs decode one window per model call (batch size 1): batched decoding of a barely trained
model can flip near-tie tokens depending on which windows share a padded batch, and that is a
property of batching, not of the path (measured: 1 of 24 texts differed between one call of
24 texts and two calls of 12 at batch size 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from textrepair.config import Settings
from textrepair.data import tables
from textrepair.model.repairer import Repairer
from textrepair.monitoring.predlog import log_uri, read_window
from textrepair.scoring import ScoringModel, resolve_model
from textrepair.stages.batch import run as run_batch
from textrepair.stages.produce import write_landing_file
from textrepair.stages.stream import StreamPaths
from textrepair.stages.stream import run as run_stream

pytestmark = [pytest.mark.spark, pytest.mark.slow]
Rows = list[tuple[str, str]]


@dataclass
class Context:
    spark: SparkSession
    settings: Settings
    model_dir: Path
    model: ScoringModel
    tmp: Path


def direct_leg(context: Context, rows: Rows) -> dict[str, str]:
    repairer = Repairer.load(context.model_dir, batch_size=1)
    return {
        i: r.text for (i, _), r in zip(rows, repairer.repair([t for _, t in rows]), strict=True)
    }


def api_leg(context: Context, rows: Rows) -> dict[str, str]:
    from fastapi.testclient import TestClient

    from textrepair.serve.app import create_app

    repairer = Repairer.load(context.model_dir, batch_size=1)
    with TestClient(create_app(context.settings, repairer=repairer)) as client:
        response = client.post("/v1/repair", json={"texts": [t for _, t in rows]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    return {i: r["text"] for (i, _), r in zip(rows, results, strict=True)}


def batch_leg(context: Context, rows: Rows) -> dict[str, str]:
    source, output = str(context.tmp / "batch_in"), str(context.tmp / "batch_out")
    tables.write_arrow(pa.Table.from_pylist([{"id": i, "text": t} for i, t in rows]), source)
    run_batch(context.settings, context.spark, context.model, source, output)
    return _repaired(output)


def stream_leg(context: Context, rows: Rows) -> dict[str, str]:
    root = context.tmp / "stream"
    paths = StreamPaths(
        landing=str(root / "landing"),
        table=str(root / "predictions"),
        quarantine=str(root / "quarantine"),
        checkpoint=str(root / "checkpoint"),
        metrics_file=str(root / "metrics.json"),
    )
    for start in range(0, len(rows), 7):  # several files, several micro-batches
        chunk = [{"id": i, "text": t} for i, t in rows[start : start + 7]]
        write_landing_file(Path(paths.landing), f"f{start:03d}.jsonl", chunk)
    run_stream(
        context.spark, context.settings, context.model, paths, available_now=True, echo=print
    )
    return _repaired(paths.table)


def _repaired(uri: str) -> dict[str, str]:
    data = tables.read_arrow(uri, columns=["id", "repaired"])
    return dict(
        zip(data.column("id").to_pylist(), data.column("repaired").to_pylist(), strict=True)
    )


LEGS: dict[str, Callable[[Context, Rows], dict[str, str]]] = {
    "direct": direct_leg,
    "api": api_leg,
    "batch": batch_leg,
    "stream": stream_leg,
}


@pytest.mark.parametrize("family_model", ["copy_model_dir", "edit_model_dir"])
def test_every_scoring_path_repairs_identically(
    spark, tmp_path, tiny_params, family_model, request, damaged_texts, one_torch_thread
):
    model_dir = request.getfixturevalue(family_model)
    params = tiny_params(tmp_path, "parity")
    params["stream"].update(max_files_per_trigger=2)
    context = Context(
        spark,
        Settings(**params),
        model_dir,
        resolve_model(str(model_dir), batch_size=1),
        tmp_path,
    )
    rows = [(f"p{i:02d}", text) for i, text in enumerate(damaged_texts)]
    outputs = {name: leg(context, rows) for name, leg in LEGS.items()}
    expected = outputs["direct"]
    assert len(expected) == len(rows)
    assert sum(expected[i] != t for i, t in rows) >= 3  # the model really changes some texts
    for name, output in outputs.items():
        assert output == expected, f"{name} differs from the direct Repairer"
    logged = read_window(log_uri(context.settings))["path"].value_counts().to_dict()
    assert logged == {"api": len(rows), "batch": len(rows), "stream": len(rows)}
