"""MLflow set-up and the lineage every run records: git commit and the DVC hash of gold."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import yaml

from textrepair.config import MlflowConfig

if TYPE_CHECKING:
    from mlflow import ActiveRun

GOLD_OUT = "data/lake/gold"


def configure_mlflow(config: MlflowConfig) -> str:
    """Point MLflow at the configured tracking URI and experiment; return the experiment id."""
    import mlflow

    mlflow.set_tracking_uri(config.tracking_uri)
    experiment = mlflow.get_experiment_by_name(config.experiment)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        location = _artifact_uri(config.artifact_root) if config.artifact_root else None
        experiment_id = mlflow.create_experiment(config.experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@contextmanager
def lineage_run(config: MlflowConfig, run_name: str, tags: dict[str, str]) -> Iterator[ActiveRun]:
    """A new MLflow run tagged with its lineage (git commit, DVC hash of gold) and `tags`."""
    import mlflow

    configure_mlflow(config)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"git_commit": git_commit(), "data_version": data_version(), **tags})
        yield run


def flat_params(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Nested settings as flat MLflow params: {"lr": 1} under "train" -> {"train.lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flat_params(f"{prefix}.{key}", value))
        else:
            out[f"{prefix}.{key}"] = value
    return out


def _artifact_uri(root: str) -> str:
    # Any scheme is a URI (mlflow-artifacts:/x has no "//"); a one-letter scheme is a Windows
    # drive. A bare relative path would resolve against the server's cwd, not ours.
    return root if len(urlparse(root).scheme) > 1 else Path(root).resolve().as_uri()


def git_commit(repo: Path = Path()) -> str:
    """The current commit, with '-dirty' when tracked files changed; 'unknown' outside git."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


def data_version(lock_file: Path = Path("dvc.lock"), out: str = GOLD_OUT) -> str:
    """The DVC hash of gold from dvc.lock ('unknown' before the first `dvc repro`)."""
    if not lock_file.exists():
        return "unknown"
    lock = yaml.safe_load(lock_file.read_text()) or {}
    for stage in lock.get("stages", {}).values():
        for entry in stage.get("outs", []):
            if entry.get("path") == out:
                return str(entry.get("md5", "unknown"))
    return "unknown"
