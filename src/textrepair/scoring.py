"""Scoring shared by the batch job and the stream: prediction rows from texts, through Repairer.

The driver resolves the model once (`resolve_model`, through `model.source`): a registered model
URI such as `models:/textrepair@champion` is pinned to its version and downloaded to a local
directory, so every worker scores with the same weights even if @champion moves during the job,
and every prediction records that version (the same id the API logs). Python workers load the
directory once per process (`worker_repairer`) and reuse it for every batch and task they run
(Spark reuses its Python workers), so a job or a long-running stream loads the model once per
core, not once per batch.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from textrepair.model.source import ModelInfo, is_model_dir, resolve

PREDICTION_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("input", pa.string()),
        ("repaired", pa.string()),
        ("edits", pa.string()),  # JSON list of {op, start, end, replacement}, as the pyfunc gives
        ("changed", pa.bool_()),
        ("model_version", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)

# Per Python worker process: model directory -> loaded Repairer (see worker_repairer).
_WORKER_REPAIRERS: dict[str, Any] = {}
WORKER_LOADS: list[str] = []  # one entry per model load in this process (tests read it)


@dataclass(frozen=True)
class ScoringModel:
    """A model pinned for one job: what workers load, and the version predictions record."""

    info: ModelInfo  # what was asked for (info.source) and what it resolved to
    local_dir: str  # a textrepair model directory on a path workers can read
    batch_size: int = 16
    torch_threads: int = 1

    @property
    def version(self) -> str:
        """The version id predictions record, e.g. 3, or dir:<name>@<weights hash>."""
        return self.info.version


def resolve_model(
    source: str, *, batch_size: int = 16, torch_threads: int = 1, download_dir: Path | None = None
) -> ScoringModel:
    """Pin `source` (a model directory or an MLflow model URI) to a local directory and version.

    A `models:/name@alias` URI is resolved to `models:/name/<version>` first (`model.source`).
    MLflow must already point at the right tracking URI (`tracking.configure_mlflow`).
    """
    options = dict(batch_size=batch_size, torch_threads=torch_threads)
    target, info = resolve(source)
    if is_model_dir(target):
        return ScoringModel(info, str(Path(target).absolute()), **options)
    from textrepair.model.pyfunc import download_model_dir

    local = download_model_dir(target, download_dir or _temporary_dir())
    return ScoringModel(info, str(local), **options)


def _temporary_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="textrepair-model-"))
    # The workers of this job read it; nothing needs it after the driver exits.
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def worker_repairer(model: ScoringModel) -> Any:
    """The Repairer of `model` in this process, loaded on first use and kept for the next calls."""
    import torch

    if model.torch_threads:
        # Spark runs one Python worker per core: more threads per worker only contend.
        torch.set_num_threads(model.torch_threads)
    if model.local_dir not in _WORKER_REPAIRERS:
        from textrepair.model.repairer import Repairer

        _WORKER_REPAIRERS[model.local_dir] = Repairer.load(model.local_dir)
        WORKER_LOADS.append(model.local_dir)
    repairer = _WORKER_REPAIRERS[model.local_dir]
    repairer.batch_size = model.batch_size  # a decoding option: no reload needed
    return repairer


def edits_json(result: Any) -> str:
    """A RepairResult's edits as the JSON list the pyfunc model returns."""
    return json.dumps([asdict(edit) for edit in result.edits], ensure_ascii=False)


def predict_frame(ids: list[str], texts: list[str], repairer: Any, version: str) -> pd.DataFrame:
    """Prediction rows (PREDICTION_SCHEMA) for `texts`, repaired in one Repairer call."""
    results = repairer.repair(texts) if texts else []
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "input": pd.Series(texts, dtype=object),
            "repaired": pd.Series([r.text for r in results], dtype=object),
            "edits": pd.Series([edits_json(r) for r in results], dtype=object),
            "changed": pd.Series([r.changed for r in results], dtype=bool),
            "model_version": version,
            "scored_at": pd.Timestamp(dt.datetime.now(dt.UTC)),
        },
        columns=PREDICTION_SCHEMA.names,
    )


def score_batches(
    model: ScoringModel, id_column: str = "id", text_column: str = "text"
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The mapInPandas function: (id, text) batches in, PREDICTION_SCHEMA batches out."""

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        repairer = worker_repairer(model)
        for batch in batches:
            ids = batch[id_column].astype(str).tolist()
            yield predict_frame(ids, batch[text_column].tolist(), repairer, model.version)

    return score


def log_scored(
    scored: Any, uri: str, seconds: float, path: str, storage_options: dict[str, str]
) -> None:
    """One prediction-log commit for a scored frame (PREDICTION_SCHEMA columns): lengths and
    rates only, never the text; each row gets the average latency `seconds / rows`."""
    from textrepair.monitoring.predlog import append_predictions, rows_from_predictions

    columns = scored.select("input", "repaired", "edits", "model_version").toArrow()
    rows = rows_from_predictions(columns, seconds, path)
    if rows:
        append_predictions(rows, uri, storage_options=storage_options)
