"""The promote stage: a registered version challenges @champion and wins only when measurably
better (lifecycle/registry.py holds the gate); rollback gives @champion back."""

from __future__ import annotations

import logging
from typing import Any

from textrepair.config import Settings
from textrepair.stages.evaluate import (
    TEST_SET_TAG,
    eval_config,
    evaluation_rows,
    predict_fn,
    test_set_fingerprint,
)

log = logging.getLogger(__name__)


def run(settings: Settings, version: str | None = None) -> Any:
    """Challenge the champion with `version` (default: the latest); return the Decision.

    Raises registry.AlreadyChampionError when the version already is @champion, and
    registry.RegistryError when the promotion cannot be decided.
    """
    from mlflow import MlflowClient

    from textrepair.lifecycle.registry import promote
    from textrepair.lifecycle.tracking import configure_mlflow

    configure_mlflow(settings.mlflow)
    return promote(MlflowClient(), settings.registry, version_scorer(settings), version)


def rollback(settings: Settings) -> str:
    """Give @champion back to the previous champion; return that version."""
    from mlflow import MlflowClient

    from textrepair.lifecycle.registry import rollback as rollback_champion
    from textrepair.lifecycle.tracking import configure_mlflow

    configure_mlflow(settings.mlflow)
    return rollback_champion(MlflowClient(), settings.registry)


def version_scorer(settings: Settings) -> Any:
    """Scores registered versions on the evaluation rows, for `registry.promote`.

    A version whose run already logged an evaluation on the same test rows (same gold hash,
    profile and row cap: the `evaluation.test_set` tag) is not scored again.
    """
    from mlflow import MlflowClient

    from textrepair.lifecycle.evaluation import evaluate_system
    from textrepair.model.pyfunc import load_repairer

    name = settings.registry.model_name
    fingerprint = test_set_fingerprint(settings)
    client = MlflowClient()
    rows: list[dict[str, Any]] = []

    def score(version: str) -> dict[str, float]:
        logged = _logged_scores(client, name, version, fingerprint)
        if logged is not None:
            log.info("version %s: reusing the evaluation logged on the same test rows", version)
            return logged
        if not rows:
            rows.extend(evaluation_rows(settings))
        repairer = load_repairer(f"models:/{name}/{version}")
        metrics = evaluate_system(
            f"version {version}", predict_fn(repairer), rows, eval_config(settings)
        )
        broken = metrics["broken_rate"]["value"]
        if broken is None:
            raise ValueError("the evaluation rows hold no clean row: broken rate is unknown")
        return {"cer_out": metrics["cer_out"]["value"], "broken_rate": broken}

    return score


def _logged_scores(
    client: Any, name: str, version: str, fingerprint: str | None
) -> dict[str, float] | None:
    if fingerprint is None:
        return None
    run = client.get_run(client.get_model_version(name, version).run_id)
    metrics = run.data.metrics
    if run.data.tags.get(TEST_SET_TAG) != fingerprint:
        return None
    if "model.cer_out" not in metrics or "model.broken_rate" not in metrics:
        return None
    return {"cer_out": metrics["model.cer_out"], "broken_rate": metrics["model.broken_rate"]}
