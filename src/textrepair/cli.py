"""The `textrepair` command line: one sub-command per stage."""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from textrepair.config import Settings, load_settings

app = typer.Typer(
    help="Restore text damaged by DNA-like mutations: data pipeline, model and serving.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Parameters file (default: $TEXTREPAIR_PARAMS or ./params.yaml).",
        dir_okay=False,
    ),
]


def _settings(params: Path | None) -> Settings:
    try:
        return load_settings(params)
    except ValueError as error:  # pydantic ValidationError is a ValueError
        raise typer.BadParameter(str(error), param_hint="params") from error


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """textrepair: every stage of the lifecycle is a sub-command; add --help to any of them."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def mutate(
    text: Annotated[str, typer.Argument(help="Clean text to damage.")],
    profile: Annotated[str, typer.Option(help="Mutation profile from params.yaml.")] = "default",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same damage.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the corrupted text and the event records.")
    ] = False,
    params: ParamsOption = None,
) -> None:
    """Damage TEXT with a mutation profile and print the corrupted text."""
    from textrepair.data.mutations import mutate_text

    settings = _settings(params)
    if profile not in settings.mutation_profiles:
        known = ", ".join(sorted(settings.mutation_profiles))
        raise typer.BadParameter(
            f"unknown profile {profile!r}; known: {known}", param_hint="--profile"
        )
    corrupted, events = mutate_text(text, settings.mutation_profiles[profile], seed=seed)
    if as_json:
        record = {
            "clean": text,
            "corrupted": corrupted,
            "profile": profile,
            "seed": seed,
            "mutations": [e.to_dict() for e in events],
        }
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        typer.echo(corrupted)


ReportsOption = Annotated[
    Path, typer.Option("--reports-dir", help="Where stage metrics (JSON) and plots go.")
]


class EvalSplit(StrEnum):
    test = "test"
    validation = "validation"


def _spark(settings: Settings):
    """The command's Spark session as a context manager: stopped when the command ends."""
    from textrepair.data.spark import spark_session

    return spark_session(settings.spark)


@app.command()
def ingest(
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Bronze: add new or changed corpus files (built-ins and user paths) to the lake."""
    from textrepair.stages import ingest as stage

    settings = _settings(params)
    with _status("ingest: reading corpus files into bronze"), _spark(settings) as spark:
        result = stage.run(settings, spark, reports_dir)
    typer.echo(
        f"bronze: {result.bronze_documents} documents "
        f"({result.documents_added} added from {result.files_ingested} new or changed file(s), "
        f"{result.files_unchanged} unchanged, {len(result.files_skipped)} skipped)"
    )


@app.command()
def clean(
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Silver: normalise, window, de-duplicate; rule breakers go to quarantine."""
    from textrepair.stages import clean as stage

    settings = _settings(params)
    with _status("clean: building silver and quarantine"), _spark(settings) as spark:
        result = stage.run(settings, spark, reports_dir)
    typer.echo(
        f"silver: {result.silver_rows} windows; quarantined {result.documents_quarantined} "
        f"documents and {result.windows_quarantined} windows; "
        f"{result.duplicates_removed} duplicates removed; reasons {result.quarantine_reasons}"
    )


@app.command()
def corrupt(
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Gold: corrupt silver with the mutation engine, split, and write the data report."""
    from textrepair.stages import corrupt as stage

    settings = _settings(params)
    with _status("corrupt: building gold"), _spark(settings) as spark:
        result, json_path, png_path = stage.run(settings, spark, reports_dir)
    typer.echo(
        f"gold: {result.gold_rows} rows {result.rows_by_split}; "
        f"damaged characters {result.damaged_char_rate:.1%}; report {json_path}, plot {png_path}"
    )


@app.command()
def data(
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Run ingest, clean and corrupt in one process (dvc repro runs them as separate stages)."""
    # One session for the three stages: each sees it running and leaves it to this block.
    with _spark(_settings(params)):
        ingest(params, reports_dir)
        clean(params, reports_dir)
        corrupt(params, reports_dir)


@app.command()
def summary(reports_dir: ReportsOption = Path("reports")) -> None:
    """Print the data report and, once a model was evaluated, the evaluation table."""
    from textrepair import render
    from textrepair.reports import read_metrics

    try:
        report = read_metrics("data", reports_dir)
    except FileNotFoundError as error:
        typer.echo(f"{error} (run `dvc repro` or `textrepair data`)", err=True)
        raise typer.Exit(1) from error
    render.show(render.data_table(report))
    if (reports_dir / "evaluation.json").exists():
        render.show(render.evaluation_table(read_metrics("evaluation", reports_dir)))
        typer.echo(
            "Per-type, per-length and per-source results: " + str(reports_dir / "evaluation.md")
        )
    typer.echo(render.NEXT_STEPS)


def _status(message: str):
    from textrepair import render

    return render.status(message)


@app.command("train")
def train_command(
    minutes: Annotated[
        float | None, typer.Option(help="Wall-clock budget (default: train.max_minutes).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Step budget (0: no limit).")] = None,
    family: Annotated[str | None, typer.Option(help="edit, causal_lora or byt5.")] = None,
    size: Annotated[str | None, typer.Option(help="tiny, small or base.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
    from_scratch: Annotated[
        bool,
        typer.Option(help="Train even when train.release names a release model to adopt."),
    ] = False,
    params: ParamsOption = None,
) -> None:
    """Train on gold/train, validate on gold/validation; track the run in MLflow.

    With train.release set in params.yaml, the release model is adopted instead (no training)."""
    from textrepair.stages import train as stage

    settings = _with_training_options(_settings(params), minutes, max_steps, family, size)
    run = stage.run(settings, resume=resume, from_scratch=from_scratch)
    if run.stopped_by == "release":
        typer.echo(
            f"adopted the release model {settings.train.release} ({run.steps} training steps) "
            f"as {run.model_dir}; MLflow run {run.run_id}. Next: textrepair evaluate --trained"
        )
        return
    typer.echo(
        f"trained {run.steps} steps (stopped by {run.stopped_by}); model {run.model_dir}; "
        f"MLflow run {run.run_id}. Next: textrepair evaluate --trained; textrepair register"
    )


@app.command()
def tune(
    trials: Annotated[
        int | None, typer.Option(help="Number of trials (default: tune.n_trials).")
    ] = None,
    trial_minutes: Annotated[
        float | None, typer.Option(help="Budget of each trial (default: tune.trial_minutes).")
    ] = None,
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Optuna search with small budgets; each trial is a nested MLflow run."""
    from textrepair.stages import tune as stage

    settings = _settings(params)
    updates = {"n_trials": trials, "trial_minutes": trial_minutes}
    config = settings.tune.model_copy(update={k: v for k, v in updates.items() if v is not None})
    result = stage.run(settings, config, reports_dir)
    typer.echo(
        f"best eval loss {result.best_value:.4f} with {result.best_params} "
        f"(trial {result.best_trial}); MLflow parent run {result.parent_run_id}; "
        f"details in {reports_dir / 'tune.json'}"
    )


@app.command()
def register(params: ParamsOption = None, reports_dir: ReportsOption = Path("reports")) -> None:
    """Register the last trained model as a new version (a pyfunc wrapping Repairer)."""
    from textrepair.stages import register as stage

    settings = _settings(params)
    version = stage.run(settings, reports_dir)
    typer.echo(
        f"registered {settings.registry.model_name} version {version}. Next: textrepair promote"
    )


@app.command()
def release(
    out: Annotated[Path, typer.Option(help="Release directory to write (e.g. models/NAME).")],
    command: Annotated[
        str, typer.Option(help="The command that reproduces the model, for the model card.")
    ] = "textrepair train --from-scratch",
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Package the last trained and evaluated model as a release with a model card."""
    from textrepair.lifecycle.release import ReleaseError, release_trained

    settings = _settings(params)
    try:
        path = release_trained(settings, out, command, reports_dir)
    except (ReleaseError, FileNotFoundError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"wrote the release {path} (model card: {path / 'README.md'})")


@app.command()
def hybrid(
    out: Annotated[Path, typer.Option(help="Hybrid model directory to write (e.g. models/NAME).")],
    first: Annotated[
        Path, typer.Option(help="Model directory that repairs first (e.g. an edit release).")
    ] = Path("models/textrepair-edit"),
    second: Annotated[
        Path, typer.Option(help="Model directory that repairs the first one's output.")
    ] = Path("models/textrepair-smollm2-lora"),
    second_guard_span: Annotated[
        int | None,
        typer.Option(min=0, help="The second model's guard span in the hybrid (default: its own)."),
    ] = None,
    gate: Annotated[
        float | None,
        typer.Option(
            max=1.0,
            help="Windows the first (edit) model tags as clean with at least this confidence "
            "skip the second model (default: every window goes to it).",
        ),
    ] = None,
) -> None:
    """Link two model directories into a hybrid: the second repairs the first one's output."""
    from textrepair.lifecycle.release import ReleaseError, build_hybrid
    from textrepair.model.families import ModelLoadError

    try:
        path = build_hybrid(first, second, out, second_guard_span, gate)
    except (ReleaseError, ModelLoadError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"wrote the hybrid {path}: {first} then {second}")


@app.command("config-doc")
def config_doc(
    write: Annotated[
        Path | None, typer.Option(help="Update the reference in this README instead of printing.")
    ] = None,
) -> None:
    """Print the configuration reference (every setting, generated from the pydantic models)."""
    from textrepair.configdoc import render_reference, update_readme

    if write is None:
        typer.echo(render_reference(), nl=False)
        return
    changed = update_readme(write)
    typer.echo(f"{write}: {'updated' if changed else 'already up to date'}")


def _with_training_options(
    settings: Settings,
    minutes: float | None,
    max_steps: int | None,
    family: str | None,
    size: str | None,
) -> Settings:
    train = {
        k: v for k, v in {"max_minutes": minutes, "max_steps": max_steps}.items() if v is not None
    }
    model = {k: v for k, v in {"family": family, "size": size}.items() if v is not None}
    values = settings.model_dump()
    values["train"].update(train)
    values["model"].update(model)
    try:
        return Settings(**values)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model directory or MLflow model URI (default: models:/<model_name>@champion).",
    ),
]


def _load_repairer(settings: Settings, model: str | None):
    from textrepair.model import source

    try:
        repairer, _ = source.load(settings, model)
    except Exception as error:  # MLflow and loading errors alike: say what could not be loaded
        typer.echo(f"cannot load model {model or source.champion_uri(settings)}: {error}", err=True)
        raise typer.Exit(2) from error
    return repairer


@app.command()
def repair(
    text: Annotated[str | None, typer.Argument(help="Damaged text to repair.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Repair each line of this file; one output line per line.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    model: ModelOption = None,
    params: ParamsOption = None,
) -> None:
    """Print the repaired TEXT, or the repaired lines of --file on stdout."""
    if (text is None) == (file is None):
        raise typer.BadParameter("give either TEXT or --file")
    settings = _settings(params)
    repairer = _load_repairer(settings, model)
    if file is None:
        typer.echo(repairer.repair([text])[0].text)
        return
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    for result in repairer.repair(lines):
        # A repaired line never spans two output lines.
        typer.echo(result.text.replace("\r", " ").replace("\n", " "))


@app.command()
def evaluate(
    model: ModelOption = None,
    trained: Annotated[
        bool,
        typer.Option("--trained", help="Evaluate the last trained model and log to its run."),
    ] = False,
    compare: Annotated[
        list[Path] | None,
        typer.Option(help="Another model directory scored on the same rows (repeatable)."),
    ] = None,
    split: Annotated[
        EvalSplit,
        typer.Option(help="Gold split to score: validation compares models without reading test."),
    ] = EvalSplit.test,
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Evaluate a model and the baselines on gold/test (or --split validation); write
    reports/evaluation.json and .md."""
    from textrepair import render
    from textrepair.stages import evaluate as stage

    if trained and split is not EvalSplit.test:
        raise typer.BadParameter(
            "--trained logs test metrics to the training run", param_hint="--split"
        )
    settings = _settings(params)
    compare = compare or []
    if trained:
        report = stage.run(settings, reports_dir, compare)
    else:
        repairer = _load_repairer(settings, model)
        report = stage.evaluate(settings, repairer, reports_dir, compare, split.value)
    render.show(render.evaluation_table(report))
    typer.echo(f"wrote {reports_dir / 'evaluation.json'} and {reports_dir / 'evaluation.md'}")


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Option(help="Version to challenge the champion (default: latest).")
    ] = None,
    params: ParamsOption = None,
) -> None:
    """Make a version @challenger; it becomes @champion only if it measurably wins."""
    from textrepair.lifecycle.registry import AlreadyChampionError, RegistryError
    from textrepair.stages import promote as stage

    try:
        decision = stage.run(_settings(params), version)
    except AlreadyChampionError as error:  # a rerun of the main command: nothing new to promote
        typer.echo(f"{error}: nothing to do")
        return
    except RegistryError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    verdict = "promoted to @champion" if decision.promoted else "not promoted"
    typer.echo(f"version {decision.challenger} {verdict}: {decision.reason}")


@app.command()
def rollback(params: ParamsOption = None) -> None:
    """Give @champion back to the previous champion."""
    from textrepair.lifecycle.registry import RegistryError
    from textrepair.stages import promote as stage

    try:
        version = stage.rollback(_settings(params))
    except RegistryError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"@champion is version {version} again")


# ------------------------------------------------------------------ monitoring and the app
DRIFT_EXIT_CODE = 3  # `--fail-on-drift`: retraining is recommended
TOO_FEW_ROWS_EXIT_CODE = 4  # the window holds fewer than monitor.min_rows rows


@app.command()
def monitor(
    window: Annotated[
        int | None, typer.Option(help="Judge the last N prediction-log rows (0: all).")
    ] = None,
    hours: Annotated[
        float | None, typer.Option(help="Judge only rows of the last H hours (0: no limit).")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option(help=f"Exit with status {DRIFT_EXIT_CODE} when retraining is advised.")
    ] = False,
    params: ParamsOption = None,
    reports_dir: ReportsOption = Path("reports"),
) -> None:
    """Compare recent predictions with the training data; write reports/monitor.{json,html}.

    Exit status: 0 no drift (or drift without --fail-on-drift); 1 no verdict possible (no log,
    an empty window or no gold); 3 drift with --fail-on-drift; 4 too few rows to judge.
    """
    from textrepair import render
    from textrepair.monitoring.monitor import STATUS_DRIFT, STATUS_TOO_FEW, MonitorError
    from textrepair.stages import monitor as stage

    settings = _settings(params)
    try:
        done = stage.run(settings, last_rows=window, last_hours=hours, reports_dir=reports_dir)
    except MonitorError as error:
        typer.echo(f"monitor: {error}", err=True)
        raise typer.Exit(1) from error
    report = done.report
    render.show(render.drift_table(report))
    typer.echo(render.drift_verdict(report))
    typer.echo(f"wrote {done.json_path} and {done.html_path}")
    if report["status"] == STATUS_TOO_FEW:
        typer.echo(
            f"monitor: only {report['window']['rows']} rows in the window, fewer than "
            f"monitor.min_rows={settings.monitor.min_rows}: no verdict",
            err=True,
        )
        raise typer.Exit(TOO_FEW_ROWS_EXIT_CODE)
    if report["status"] == STATUS_DRIFT and fail_on_drift:
        raise typer.Exit(DRIFT_EXIT_CODE)


@app.command()
def ui(
    model: ModelOption = None,
    api_url: Annotated[
        str | None, typer.Option(help="Repair through this API (POST {url}/v1/repair).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Listen address (default: ui.address).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: ui.port).")] = None,
    params: ParamsOption = None,
) -> None:
    """Open the Streamlit app: damage a text, repair it, compare with SymSpell, browse versions."""
    import os
    import sys

    from textrepair.ui import APP_SCRIPT

    settings = _settings(params)  # fail here, with a clear message, rather than in the browser
    env = dict(os.environ)
    # The app reads its settings like every command: pass the choices on as TEXTREPAIR_* values.
    if params is not None:
        env["TEXTREPAIR_PARAMS"] = str(params.resolve())
    if model is not None:
        env["TEXTREPAIR_UI__MODEL"] = model
    if api_url is not None:
        env["TEXTREPAIR_UI__API_URL"] = api_url
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    command += ["--server.address", address or settings.ui.address]
    command += ["--server.port", str(port or settings.ui.port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "viewer"]  # no "Deploy" button: this is not a cloud app
    # Become streamlit (no child process): a signal to this process stops the server itself.
    os.execve(sys.executable, command, env)


# ------------------------------------------------------------------------ serving (issue 4)
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    model: ModelOption = None,
    params: ParamsOption = None,
) -> None:
    """Serve POST /v1/repair, /healthz, /readyz, /metrics and /docs with uvicorn."""
    from textrepair.serve.server import AnonymousServeError, run_server

    settings = _settings(params)
    updates = {"host": host, "port": port, "model": model}
    config = settings.serve.model_copy(update={k: v for k, v in updates.items() if v is not None})
    try:
        run_server(settings.model_copy(update={"serve": config}))
    except AnonymousServeError as error:
        typer.echo(f"serve: {error}", err=True)
        raise typer.Exit(2) from error


@app.command()
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="New directory for the model files.")
    ],
    model: ModelOption = None,
    params: ParamsOption = None,
) -> None:
    """Write a self-contained model directory (e.g. to bake into an image)."""
    from textrepair.model.source import champion_uri
    from textrepair.serve.export import export_model

    settings = _settings(params)
    source = model or champion_uri(settings)
    try:
        info = export_model(source, output, settings.mlflow.tracking_uri)
    except Exception as error:  # registry, download and load errors alike: say what failed
        typer.echo(f"cannot export {source}: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"exported {info.name} version {info.version} ({source}) to {output}")


# ------------------------------------------------------------------ batch and streaming scoring
def _scoring_model(settings: Settings, model: str | None):
    """The model pinned for a Spark job: a directory, or a registry URI resolved to a version."""
    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.source import champion_uri, is_model_dir
    from textrepair.scoring import resolve_model

    source = model or champion_uri(settings)
    if not is_model_dir(source):
        configure_mlflow(settings.mlflow)
    try:
        return resolve_model(
            source,
            batch_size=settings.batch.batch_size,
            torch_threads=settings.batch.torch_threads,
        )
    except Exception as error:  # registry and download errors alike: say what failed
        typer.echo(f"cannot load model {source}: {error}", err=True)
        raise typer.Exit(2) from error


@app.command()
def batch(
    input_: Annotated[
        str,
        typer.Option(
            "--input", help="Delta table, or parquet / JSON-lines / CSV file(s) or folder."
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(help="Predictions table (default: batch.output under storage.root)."),
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Id column (default: batch.id_column).")] = (
        None
    ),
    text_column: Annotated[
        str | None, typer.Option(help="Text column (default: batch.text_column).")
    ] = None,
    where: Annotated[
        str | None, typer.Option(help="SQL filter on the input, e.g. \"split = 'test'\".")
    ] = None,
    model: ModelOption = None,
    params: ParamsOption = None,
) -> None:
    """Score a table or files with the champion on Spark; merge predictions on id (idempotent)."""
    from textrepair.stages import batch as stage

    settings = _settings(params)
    columns = {"id_column": id_column, "text_column": text_column}
    columns = {k: v for k, v in columns.items() if v is not None}
    if columns:
        settings = settings.model_copy(update={"batch": settings.batch.model_copy(update=columns)})
    target = stage.table_uri(settings, output or settings.batch.output)
    scoring_model = _scoring_model(settings, model)
    try:
        with (
            _spark(settings) as spark,
            _status(f"batch: scoring {input_} with {scoring_model.info.label()}"),
        ):
            result = stage.run(settings, spark, scoring_model, input_, target, where=where)
    except ValueError as error:
        typer.echo(f"batch: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(
        f"batch: {result.scored_rows} rows scored by {scoring_model.info.label()} in "
        f"{result.seconds:.1f}s into {target} (version {result.table_version}): "
        f"{result.inserted} inserted, {result.updated} replaced; skipped "
        f"{result.null_id_rows} without id, {result.null_text_rows} without text, "
        f"{result.duplicate_id_rows} duplicate ids"
    )


stream_app = typer.Typer(
    help="Structured Streaming: repair JSON lines dropped in a landing folder.",
    pretty_exceptions_show_locals=False,
)
app.add_typer(stream_app, name="stream")


@stream_app.callback(invoke_without_command=True)
def stream(
    ctx: typer.Context,
    landing: Annotated[
        str | None, typer.Option(help="Landing folder of *.jsonl files (default: stream.landing).")
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Predictions Delta table (default: stream.table).")
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option(help="Checkpoint folder (default: stream.checkpoint).")
    ] = None,
    quarantine: Annotated[
        str | None, typer.Option(help="Quarantine table (default: stream.quarantine_table).")
    ] = None,
    available_now: Annotated[
        bool,
        typer.Option("--available-now", help="Process what is in the landing folder, then stop."),
    ] = False,
    metrics: Annotated[
        str | None, typer.Option(help="Metrics JSON file (default: stream.metrics_file).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    model: ModelOption = None,
    params: ParamsOption = None,
) -> None:
    """Run the stream: without a sub-command, `textrepair stream --landing ... [--available-now]`.

    Without --available-now it runs on a processing-time trigger (stream.trigger_interval) until
    Ctrl-C or SIGTERM; a restart with the same checkpoint continues exactly where it stopped.
    """
    if ctx.invoked_subcommand is not None:
        return
    from textrepair.stages import stream as stage

    settings = _settings(params)
    paths = stage.resolve_paths(
        settings,
        landing=landing,
        table=table,
        checkpoint=checkpoint,
        quarantine=quarantine,
        metrics_file=metrics,
    )
    scoring_model = _scoring_model(settings, model)
    mode = "until the landing folder is drained" if available_now else "continuously"
    typer.echo(
        f"stream: {paths.landing} -> {paths.table} with {scoring_model.info.label()}, {mode}; "
        f"checkpoint {paths.checkpoint}, metrics {paths.metrics_file}"
    )
    with _spark(settings) as spark:
        sink = stage.run(
            spark,
            settings,
            scoring_model,
            paths,
            available_now=available_now,
            timeout=timeout,
            echo=typer.echo,
        )
    totals = sink.totals
    typer.echo(
        f"stream: stopped after {totals.batches} batches: {totals.predictions} predictions, "
        f"{totals.quarantined} quarantined {totals.quarantine_reasons}, "
        f"{totals.replayed_batches_skipped} replayed batches skipped"
    )


@stream_app.command("produce")
def stream_produce(
    landing: Annotated[
        str | None, typer.Option(help="Landing folder (default: stream.landing).")
    ] = None,
    count: Annotated[int, typer.Option(help="Rows to write.", min=1)] = 100,
    rate: Annotated[
        float | None, typer.Option(help="Rows per second (default: stream.rate).", min=0.001)
    ] = None,
    rows_per_file: Annotated[
        int | None, typer.Option(help="Rows per landing file (default: stream.rows_per_file).")
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="Predictions table watched for latency (default: stream.table)."),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the last files to be scored (0: none).")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    prefix: Annotated[
        str | None, typer.Option(help="Prefix of ids and file names (default: time-based).")
    ] = None,
    params: ParamsOption = None,
) -> None:
    """Write corrupted gold/test samples into the landing folder at a rate; show the latency."""
    from textrepair.stages import produce as stage

    stage.run(
        _settings(params),
        count=count,
        seed=seed,
        prefix=prefix or time.strftime("p%Y%m%d%H%M%S"),
        landing=landing,
        table=table,
        rate=rate,
        rows_per_file=rows_per_file,
        wait_seconds=wait,
        echo=typer.echo,
    )
