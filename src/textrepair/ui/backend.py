"""What the app repairs with, and what it shows around it (no Streamlit here: testable alone).

`make_backend(settings)` picks the repair path: the API when `ui.api_url` is set (POST
{api_url}/v1/repair), otherwise a model loaded in the app (`ui.model`, a directory or URI, or
the registry's champion). Both return `RepairResult`s and the `ModelInfo` that produced them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from textrepair.config import MutationSpec, MutationType, Settings
from textrepair.data.mutations import Mutation, Mutator, row_rng
from textrepair.model.repairer import Edit, RepairResult
from textrepair.model.source import ModelInfo, champion_uri

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """The model or the API cannot be used; the message says which and why."""


class ApiBackend:
    """Repairs through the textrepair API (which logs its own predictions)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout

    def repair(self, texts: list[str]) -> tuple[list[RepairResult], ModelInfo]:
        import requests

        endpoint = f"{self.url}/v1/repair"
        try:
            response = requests.post(endpoint, json={"texts": texts}, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
            results = [_result(item) for item in body["results"]]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise BackendError(f"the API at {endpoint} failed: {error}") from error
        model = body.get("model") or {}
        info = ModelInfo(
            name=str(model.get("name", "textrepair")),
            version=str(model.get("version", "unknown")),
            alias=model.get("alias"),
            source=self.url,
        )
        return results, info


def _result(item: dict[str, Any]) -> RepairResult:
    edits = [Edit(e["op"], int(e["start"]), int(e["end"]), e["replacement"]) for e in item["edits"]]
    return RepairResult(item["text"], edits, bool(item["changed"]))


class LocalBackend:
    """Repairs with a model loaded in the app; optionally logs to the prediction log."""

    def __init__(self, repairer: Any, info: ModelInfo, log_to: Callable | None = None) -> None:
        self.repairer, self.info, self.log_to = repairer, info, log_to

    def repair(self, texts: list[str]) -> tuple[list[RepairResult], ModelInfo]:
        started = time.perf_counter()
        results = self.repairer.repair(texts)
        latency = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
        if self.log_to is not None:
            self.log_to(texts, results, latency, self.info.version)
        return results, self.info


def make_backend(settings: Settings) -> ApiBackend | LocalBackend:
    """The API backend when ui.api_url is set, else the local model (BackendError if none)."""
    if settings.ui.api_url:
        return ApiBackend(settings.ui.api_url, settings.ui.timeout_seconds)
    from textrepair.model import source as model_source

    source = settings.ui.model or champion_uri(settings)
    try:
        # The alias is pinned first: the version shown and logged is the one loaded.
        repairer, info = model_source.load(settings, source)
    except Exception as error:  # MLflow and loading errors alike: name what could not be loaded
        raise BackendError(f"cannot load model {source}: {error}") from error
    log_to = _prediction_logger(settings) if settings.ui.log_predictions else None
    return LocalBackend(repairer, info, log_to)


def _prediction_logger(settings: Settings) -> Callable:
    from textrepair.monitoring.predlog import append_predictions, log_uri, prediction_rows

    def write(texts: list[str], results: list[RepairResult], latency: float, version: str) -> None:
        try:
            rows = prediction_rows(texts, results, latency, "ui", version)
            append_predictions(
                rows, log_uri(settings), storage_options=settings.storage.storage_options
            )
        except Exception:  # the app works without its log
            log.warning("cannot write the prediction log", exc_info=True)

    return write


# ------------------------------------------------------------------------- around the repair
def custom_profile(
    rates: dict[str, float], base: dict[MutationType, MutationSpec]
) -> dict[MutationType, MutationSpec]:
    """A mutation profile with the given rates per type and `base`'s span lengths."""
    profile = {}
    for kind, rate in rates.items():
        if rate > 0:
            spec = base.get(MutationType(kind)) or MutationSpec(
                rate=rate, mean_length=2, max_length=8
            )
            profile[MutationType(kind)] = spec.model_copy(update={"rate": rate})
    return profile


def corrupt(
    text: str, profile: dict[MutationType, MutationSpec], seed: int
) -> tuple[str, list[Mutation]]:
    """Damage `text` deterministically from `seed` (no mutation with an empty profile)."""
    if not profile:
        return text, []
    return Mutator(profile).mutate(text, row_rng(seed, "ui"))


def gold_samples(settings: Settings) -> list[str]:
    """Clean texts of the first `ui.sample_rows` gold/test rows (main profile), by id."""
    from textrepair.data.gold import read_gold

    test = read_gold(settings, splits=("test",), profile=settings.gold.profile, columns=("clean",))
    return test["clean"].slice(0, settings.ui.sample_rows).to_pylist()


def registry_versions(settings: Settings) -> list[dict[str, Any]]:
    """One row per registered version: aliases, run metrics (model.*) and promotion.* tags."""
    from mlflow import MlflowClient

    from textrepair.lifecycle.tracking import configure_mlflow

    configure_mlflow(settings.mlflow)
    client, name = MlflowClient(), settings.registry.model_name
    versions = client.search_model_versions(f"name='{name}'")
    # Search results may leave `aliases` empty: the registered model holds them all.
    aliases: dict[str, list[str]] = {}
    if versions:
        for alias, number in (client.get_registered_model(name).aliases or {}).items():
            aliases.setdefault(str(number), []).append(alias)
    rows = []
    for version in sorted(versions, key=lambda v: -int(v.version)):
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        rows.append(
            {
                "version": int(version.version),
                "aliases": ", ".join(sorted(aliases.get(str(version.version), []))),
                "run": version.run_id,
                **{k: v for k, v in sorted(metrics.items()) if k.startswith("model.")},
                **{k: v for k, v in sorted(version.tags.items()) if k.startswith("promotion.")},
            }
        )
    return rows
