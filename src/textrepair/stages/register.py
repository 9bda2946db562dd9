"""The register stage: log the last trained model as a pyfunc and register a new version."""

from __future__ import annotations

import logging
from pathlib import Path

from textrepair.config import Settings
from textrepair.lifecycle.trainrun import TrainRun
from textrepair.reports import REPORTS_DIR, write_metrics

log = logging.getLogger(__name__)


def run(settings: Settings, reports_dir: Path = REPORTS_DIR) -> str:
    """Register the model of artifacts/train/run.json; write reports/register.json."""
    import mlflow

    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.pyfunc import log_repairer

    trained = TrainRun.load(Path(settings.train_output_dir))
    configure_mlflow(settings.mlflow)
    with mlflow.start_run(run_id=trained.run_id):
        info = log_repairer(Path(trained.model_dir), settings.registry.model_name)
    version = str(info.registered_model_version)
    write_metrics("register", {"run_id": trained.run_id, "version": version}, reports_dir)
    log.info(
        "run %s registered as %s version %s", trained.run_id, settings.registry.model_name, version
    )
    return version
