"""Train → evaluate → log to MLflow (and register): one tracked run per training.

The run records params, per-step metrics (through the Trainer's MLflow callback), the final
evaluation against the baselines, plots, the git commit and the DVC hash of gold, and the model
as a pyfunc wrapping Repairer.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textrepair.config import ModelConfig, Settings, TrainConfig
from textrepair.data import tables
from textrepair.reports import REPORTS_DIR

if TYPE_CHECKING:
    from textrepair.model.train import TrainResult

log = logging.getLogger(__name__)


RUN_FILE = "run.json"
CURVES_FILE = "training_curves.png"  # a DVC out of the train stage
TEST_SET_TAG = "evaluation.test_set"


@dataclass
class TrainRun:
    """What the train stage hands to evaluate and register (artifacts/train/run.json)."""

    run_id: str
    model_dir: str
    steps: int
    stopped_by: str
    best_step: int | None = None  # step of the saved (best) weights; None before it was recorded

    def save(self, output_dir: Path) -> Path:
        path = output_dir / RUN_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, output_dir: Path) -> TrainRun:
        path = output_dir / RUN_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: run `textrepair train` first")
        return cls(**json.loads(path.read_text()))


def gold_rows(settings: Settings, splits: tuple[str, ...]) -> list[dict[str, Any]]:
    """Gold rows of the given splits, ordered by id (deterministic), read without Spark."""
    table = tables.read_arrow(
        settings.lake_path("gold"),
        columns=["id", "clean", "corrupted", "mutations", "profile", "split", "source"],
        storage_options=settings.storage.storage_options,
    )
    rows = [row for row in table.to_pylist() if row["split"] in splits]
    return sorted(rows, key=lambda row: row["id"])


def profile_rows(rows: list[dict[str, Any]], split: str, profile: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["split"] == split and r["profile"] == profile]


def training_pairs(rows: list[dict[str, Any]], split: str, profile: str) -> list[tuple[str, str]]:
    return [(r["corrupted"], r["clean"]) for r in profile_rows(rows, split, profile)]


def damaged_copies(
    rows: list[dict[str, Any]], settings: Settings, copies: int
) -> list[tuple[str, str]]:
    """(corrupted, clean) pairs: `copies` fresh damaged copies of each gold row's clean text.

    Drawn like gold's own damage (main profile, clean fraction), but copy k of a row is seeded
    with (seed, row id, "profile#k"), so no copy repeats gold's damage or another copy's.
    """
    from textrepair.data.mutations import Mutator, damage_or_keep, row_rng

    gold = settings.gold
    mutator = Mutator(settings.mutation_profiles[gold.profile])
    pairs = []
    for row in rows:
        for copy in range(1, copies + 1):
            rng = row_rng(settings.seed, row["id"], f"{gold.profile}#{copy}")
            corrupted, _ = damage_or_keep(row["clean"], mutator, rng, gold.clean_fraction)
            pairs.append((corrupted, row["clean"]))
    return pairs


def evaluation_rows(rows: list[dict[str, Any]], per_set: int) -> list[dict[str, Any]]:
    """Test rows, at most `per_set` of each profile shared by source, to bound evaluation time."""
    from textrepair.lifecycle.evaluation import sample_test_rows

    return [dict(row) for row in sample_test_rows(rows, per_set)]


def evaluate_repairer(
    settings: Settings,
    repairer: Any,
    rows: list[dict[str, Any]],
    reports_dir: Path,
    compare: Sequence[Path] = (),
) -> dict[str, Any]:
    """Evaluate a Repairer and the baselines on `rows`; write the report and the CER plot.

    Each model directory in `compare` is evaluated on the same rows as one more system, named
    after its directory (e.g. the previous release beside a new model).
    """
    from textrepair.lifecycle.evaluation import (
        build_report,
        default_baselines,
        plot_cer_by_type,
        write_report,
    )
    from textrepair.model.repairer import Repairer

    systems = dict(default_baselines())
    for path in compare:
        systems[Path(path).name] = _predict_fn(Repairer.load(path))
    report = build_report(_predict_fn(repairer), rows, _eval_config(settings), systems)
    write_report(report, reports_dir)
    plot_cer_by_type(report, reports_dir / "cer_by_type.png")
    return report


def version_scorer(settings: Settings) -> Any:
    """Scores registered versions on the same evaluation rows, for `registry.promote`.

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
            rows.extend(
                evaluation_rows(gold_rows(settings, ("test",)), settings.evaluate.max_rows_per_set)
            )
        repairer = load_repairer(f"models:/{name}/{version}")
        metrics = evaluate_system(
            f"version {version}", _predict_fn(repairer), rows, _eval_config(settings)
        )
        broken = metrics["broken_rate"]["value"]
        if broken is None:
            raise ValueError("the evaluation rows hold no clean row: broken rate is unknown")
        return {"cer_out": metrics["cer_out"]["value"], "broken_rate": broken}

    return score


def test_set_fingerprint(settings: Settings) -> str | None:
    """Names the evaluation rows: gold's DVC hash, main profile, row cap (None: hash unknown)."""
    from textrepair.lifecycle.tracking import data_version

    version = data_version()
    if version == "unknown":
        return None
    return (
        f"gold={version};profile={settings.gold.profile};"
        f"rows_per_set={settings.evaluate.max_rows_per_set}"
    )


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


def _predict_fn(repairer: Any) -> Any:
    return lambda texts: [result.text for result in repairer.repair(texts)]


def _eval_config(settings: Settings) -> Any:
    from textrepair.lifecycle.evaluation import EvalConfig

    return EvalConfig(
        main_profile=settings.gold.profile,
        n_resamples=settings.evaluate.n_resamples,
        batch_size=settings.evaluate.batch_size,
    )


def run_train(settings: Settings, *, resume: bool = False, from_scratch: bool = False) -> TrainRun:
    """Train on gold/train (validating on gold/validation) inside a new MLflow run.

    With `train.release` set (and not `from_scratch`), adopt that release model instead.
    """
    if settings.train.release and not from_scratch:
        return adopt_release(settings, Path(settings.train.release))
    import mlflow

    from textrepair.lifecycle.evaluation import plot_training_curves
    from textrepair.lifecycle.tracking import configure_mlflow, data_version, git_commit

    rows = gold_rows(settings, ("train", "validation"))
    profile = settings.gold.profile
    output_dir = Path(settings.train_output_dir)
    configure_mlflow(settings.mlflow)
    model_config, train_config = settings.model, settings.train
    with mlflow.start_run(run_name=f"{model_config.family}-{model_config.size}") as run:
        mlflow.set_tags(
            {
                "git_commit": git_commit(),
                "data_version": data_version(),
                "model.family": model_config.family,
                "model.size": model_config.size,
            }
        )
        mlflow.log_params(_flat("model", model_config.model_dump(mode="json")))
        mlflow.log_params(_flat("train", train_config.model_dump(mode="json")))
        train_rows = len(profile_rows(rows, "train", profile))
        mlflow.log_params({"data.train_rows": train_rows, "data.profile": profile})
        result = fit(
            settings,
            model_config,
            train_config,
            rows,
            output_dir,
            resume=resume,
            report_to=["mlflow"],
            on_metrics=lambda metrics, step: mlflow.log_metrics(metrics, step=step),
        )
        mlflow.log_metrics(
            {"train_seconds": result.train_seconds, "train_steps": float(result.steps)}
        )
        mlflow.set_tag("stopped_by", result.stopped_by)
        if result.best_step is not None:
            mlflow.log_metric("best_step", float(result.best_step))
        curves = plot_training_curves(result.log_history, output_dir / CURVES_FILE)
        mlflow.log_artifact(str(curves), artifact_path="evaluation")
    trained = TrainRun(
        run.info.run_id, str(result.model_dir), result.steps, result.stopped_by, result.best_step
    )
    trained.save(output_dir)
    return trained


def fit(
    settings: Settings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    rows: list[dict[str, Any]],
    output_dir: Path,
    *,
    resume: bool = False,
    report_to: Sequence[str] = (),
    on_metrics: Callable[[dict[str, float], int], None] | None = None,
) -> TrainResult:
    """Train one model of any family on gold/train, validating on gold/validation.

    The generative families train on (corrupted, clean) pairs with the Trainer (`report_to`
    logs their curves); the edit family draws fresh damage of the clean train windows and
    reports through `on_metrics`.
    """
    from textrepair.model.train import train

    profile = settings.gold.profile
    if model_config.family == "edit":
        return _fit_edit(settings, model_config, train_config, rows, output_dir, resume, on_metrics)
    if train_config.damaged_copies:
        gold_train = profile_rows(rows, "train", profile)
        train_pairs = damaged_copies(gold_train, settings, train_config.damaged_copies)
    else:
        train_pairs = training_pairs(rows, "train", profile)
    validation_pairs = training_pairs(rows, "validation", profile)
    return train(
        model_config,
        train_config,
        train_pairs,
        validation_pairs,
        output_dir,
        resume=resume,
        report_to=report_to,
        max_window_bytes=settings.silver.max_window_bytes,
    )


def _fit_edit(
    settings: Settings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    rows: list[dict[str, Any]],
    output_dir: Path,
    resume: bool,
    on_metrics: Callable[[dict[str, float], int], None] | None,
) -> TrainResult:
    from textrepair.data.mutations import Mutator
    from textrepair.model.edit_train import train_edit_model, validation_examples

    profile = settings.gold.profile
    clean_windows = [r["clean"] for r in profile_rows(rows, "train", profile)]
    profiles = {name: Mutator(spec) for name, spec in settings.mutation_profiles.items()}
    return train_edit_model(
        model_config,
        train_config,
        clean_windows,
        validation_examples(profile_rows(rows, "validation", profile)),
        profiles,
        settings.gold.clean_fraction,
        output_dir,
        resume=resume,
        on_metrics=on_metrics or (lambda metrics, step: None),
        max_window_bytes=settings.silver.max_window_bytes,
    )


def adopt_release(settings: Settings, release: Path) -> TrainRun:
    """Stand in for training with a committed release model: copy it where training would have
    written its model and open an MLflow run that says where it came from. The evaluate and
    register stages then measure and register it like any trained model."""
    import mlflow

    from textrepair.lifecycle.release import CURVES_FILE as RELEASE_CURVES
    from textrepair.lifecycle.release import RELEASE_EXTRAS
    from textrepair.lifecycle.tracking import configure_mlflow, data_version, git_commit
    from textrepair.model.families import read_manifest

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
    configure_mlflow(settings.mlflow)
    with mlflow.start_run(run_name=f"release-{manifest['family']}-{manifest['size']}") as run:
        mlflow.set_tags(
            {
                "git_commit": git_commit(),
                "data_version": data_version(),
                "model.family": manifest["family"],
                "model.size": manifest["size"],
                "source": "release",
                "release.path": str(release),
            }
        )
        mlflow.log_params(_flat("model", manifest["config"]))
        for extra in RELEASE_EXTRAS:
            if (release / extra).is_file():
                mlflow.log_artifact(str(release / extra), artifact_path="release")
    steps = int(manifest.get("train_steps", 0))
    trained = TrainRun(run.info.run_id, str(model_dir), steps, "release")
    trained.save(output_dir)
    log.info("adopted the release model %s (MLflow run %s)", release, run.info.run_id)
    return trained


def run_evaluate_trained(
    settings: Settings, reports_dir: Path = REPORTS_DIR, compare: Sequence[Path] = ()
) -> dict[str, Any]:
    """Evaluate the last trained model (beside `compare`) and log the report to its run."""
    import mlflow

    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.repairer import Repairer

    trained = TrainRun.load(Path(settings.train_output_dir))
    rows = evaluation_rows(gold_rows(settings, ("test",)), settings.evaluate.max_rows_per_set)
    report = evaluate_repairer(
        settings, Repairer.load(trained.model_dir), rows, reports_dir, compare
    )
    configure_mlflow(settings.mlflow)
    fingerprint = test_set_fingerprint(settings)
    with mlflow.start_run(run_id=trained.run_id):
        mlflow.log_metrics(_final_metrics(report))
        if fingerprint is not None:  # lets promote reuse these numbers instead of scoring again
            mlflow.set_tag(TEST_SET_TAG, fingerprint)
        for name in ("evaluation.json", "evaluation.md", "cer_by_type.png"):
            mlflow.log_artifact(str(reports_dir / name), artifact_path="evaluation")
    return report


def run_register(settings: Settings, reports_dir: Path = REPORTS_DIR) -> str:
    """Log the last trained model as a pyfunc in its run and register a new version."""
    import mlflow

    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.pyfunc import log_repairer
    from textrepair.reports import write_metrics

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


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(f"{prefix}.{key}", value))
        else:
            out[f"{prefix}.{key}"] = value
    return out


def _final_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Headline numbers of the model and the baselines as MLflow metrics."""
    systems = {"model": report["model"], **report["baselines"]}
    out = {}
    for name, metrics in systems.items():
        for key in ("cer_in", "cer_out", "cer_reduction", "wer_out", "exact_match", "broken_rate"):
            value = metrics[key]["value"]
            if value is not None:
                out[f"{name}.{key}"] = float(value)
        for kind, per_type in metrics.get("per_type", {}).items():
            value = per_type["cer_reduction"]["value"]
            if value is not None:
                out[f"{name}.{kind}.cer_reduction"] = float(value)
    return out
