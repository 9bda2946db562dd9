"""Adopt a committed release in place of training (the train stage when `train.release` is set).

The release is copied where training would have written its model, and an MLflow run says where it
came from; the evaluate and register stages then measure and register it like any trained model.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from textrepair.config import Settings
from textrepair.lifecycle.trainrun import CURVES_FILE, TrainRun

log = logging.getLogger(__name__)


def run(settings: Settings, release: Path) -> TrainRun:
    """Copy the release to `train_output_dir`/model and record it in a lineage-tagged run."""
    import mlflow

    from textrepair.lifecycle.tracking import flat_params, lineage_run
    from textrepair.model.families import CURVES_FILE as RELEASE_CURVES
    from textrepair.model.families import (
        RELEASE_EXTRAS,
        read_manifest,
        second_opinion_dir,
        second_opinion_gate,
    )

    manifest = read_manifest(release)  # a clear error if the release is missing or not a model
    output_dir = Path(settings.train_output_dir)
    model_dir = output_dir / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(release, model_dir, ignore=shutil.ignore_patterns(*RELEASE_EXTRAS))
    curves = release / RELEASE_CURVES
    if curves.is_file():  # the curves of the run that produced the release
        shutil.copyfile(curves, output_dir / CURVES_FILE)
    tags = {
        "model.family": manifest["family"],
        "model.size": manifest["size"],
        "source": "release",
        "release.path": str(release),
    }
    second_dir = second_opinion_dir(release, manifest)
    if second_dir is not None:  # a hybrid: name the model that repairs this one's output
        second = read_manifest(second_dir)
        tags["model.second_opinion"] = f"{second['family']}-{second['size']}"
        gate = second_opinion_gate(release, manifest)
        tags["model.second_opinion_gate"] = "none" if gate is None else str(gate)
    run_name = f"release-{manifest['family']}-{manifest['size']}"
    with lineage_run(settings.mlflow, run_name, tags) as tracked:
        mlflow.log_params(flat_params("model", manifest["config"]))
        for extra in RELEASE_EXTRAS:
            if (release / extra).is_file():
                mlflow.log_artifact(str(release / extra), artifact_path="release")
    steps = int(manifest.get("train_steps", 0))
    trained = TrainRun(tracked.info.run_id, str(model_dir), steps, "release")
    trained.save(output_dir)
    log.info("adopted the release model %s (MLflow run %s)", release, tracked.info.run_id)
    return trained
