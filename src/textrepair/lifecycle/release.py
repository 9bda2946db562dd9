"""Package a trained model as a compact release directory with its model card.

    artifacts/train/model + run.json ─▶ models/<name>/  (safetensors weights, tokenizer, manifest)
    reports/evaluation.json          ─▶                  evaluation.json, README.md (model card)
    artifacts/train/training_curves.png ─▶               training_curves.png

A LoRA adapter leaves out tokenizer files its base holds byte for byte (Gemma's is 33 MB); its
manifest then says `"tokenizer": "base"` and loading takes the base's.

The card is generated, never hand-written: its numbers are those of the evaluation report, and it
names the data hash and the command that reproduce the model. `train.release` in params.yaml points
the train stage at such a directory (see `stages/adopt.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from textrepair.config import Settings
from textrepair.dirswap import replace_dir
from textrepair.lifecycle.trainrun import CURVES_FILE as TRAIN_CURVES_FILE
from textrepair.lifecycle.trainrun import TrainRun
from textrepair.model.families import (
    CARD_FILE,
    CURVES_FILE,
    MANIFEST,
    REPORT_FILE,
    SECOND_OPINION_GATE_KEY,
    SECOND_OPINION_KEY,
    TOKENIZER_FILES,
    ModelConfig,
    ModelLoadError,
    read_manifest,
    resolve_base,
    second_opinion_gate,
    write_manifest,
)
from textrepair.reports import REPORTS_DIR

# A release is committed to git: keep it small (the limit is about 25 MB).
MAX_RELEASE_MB = 25.0


class ReleaseError(RuntimeError):
    """The model cannot be packaged (missing inputs, too large)."""


def release_trained(
    settings: Settings, out_dir: Path, command: str, reports_dir: Path = REPORTS_DIR
) -> Path:
    """Release the last trained and evaluated model (run.json, reports/evaluation.json)."""
    from mlflow import MlflowClient

    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.edit_train import VALIDATION_FILE

    output_dir = Path(settings.train_output_dir)
    trained = TrainRun.load(output_dir)
    report_path = reports_dir / REPORT_FILE
    if not report_path.is_file():
        raise ReleaseError(f"{report_path} not found: run `textrepair evaluate --trained`")
    configure_mlflow(settings.mlflow)
    run = MlflowClient().get_run(trained.run_id)
    info = {
        "steps": trained.steps,
        "stopped_by": trained.stopped_by,
        "best_step": trained.best_step,
        "data_version": run.data.tags.get("data_version", "unknown"),
        "git_commit": run.data.tags.get("git_commit", "unknown"),
        "command": command,
        "train": {
            k.removeprefix("train."): v
            for k, v in run.data.params.items()
            if k.startswith("train.")
        },
    }
    validation = output_dir / VALIDATION_FILE  # the edit family's tagging scores
    if validation.is_file():
        info["validation"] = json.loads(validation.read_text())
    report = json.loads(report_path.read_text())
    curves = output_dir / TRAIN_CURVES_FILE
    return build_release(Path(trained.model_dir), report, out_dir, train_info=info, curves=curves)


def build_release(
    model_dir: Path,
    report: dict[str, Any],
    out_dir: Path,
    *,
    train_info: dict[str, Any],
    curves: Path | None = None,
) -> Path:
    """Copy `model_dir` to `out_dir` with the evaluation report, curves and a model card.

    `train_info` holds `steps`, `stopped_by`, `best_step`, `data_version`, `git_commit`,
    `command` and the training params (`train`) of the run that produced the model.
    """
    manifest = read_manifest(model_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the release under a name of its own, then swapped in (`replace_dir`): the old
    # release stays whole until the new one is complete, and concurrent builds do not collide.
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        _fill_release(partial, model_dir, manifest, report, train_info, curves)
        return replace_dir(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _fill_release(
    partial: Path,
    model_dir: Path,
    manifest: dict[str, Any],
    report: dict[str, Any],
    train_info: dict[str, Any],
    curves: Path | None,
) -> None:
    # copytree also gives `partial` the model directory's mode (mkdtemp made it private).
    shutil.copytree(model_dir, partial, dirs_exist_ok=True)
    if manifest["weights"] == "adapter" and manifest["base"]:
        manifest["tokenizer"] = drop_base_tokenizer(partial, Path(resolve_base(manifest["base"])))
    manifest["train_steps"] = int(train_info.get("steps", 0))
    write_manifest(partial, manifest)
    (partial / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    if curves is not None and curves.is_file():
        shutil.copyfile(curves, partial / CURVES_FILE)
    (partial / CARD_FILE).write_text(model_card(manifest, report, train_info), encoding="utf-8")
    size_mb = sum(f.stat().st_size for f in partial.rglob("*") if f.is_file()) / 2**20
    if size_mb > MAX_RELEASE_MB:
        raise ReleaseError(f"the release would take {size_mb:.1f} MB (limit {MAX_RELEASE_MB} MB)")


def drop_base_tokenizer(model_dir: Path, base_dir: Path) -> str:
    """Delete the tokenizer files the base holds byte for byte (all or none); say whose remain."""
    files = [model_dir / name for name in TOKENIZER_FILES if (model_dir / name).is_file()]
    if not files or not all(_same_bytes(f, base_dir / f.name) for f in files):
        return "own"
    for file in files:
        file.unlink()
    return "base"


def _same_bytes(ours: Path, theirs: Path) -> bool:
    return theirs.is_file() and ours.read_bytes() == theirs.read_bytes()


def model_card(manifest: dict[str, Any], report: dict[str, Any], info: dict[str, Any]) -> str:
    """The release's README.md: what it is, how it was made, how it scores."""
    from textrepair.lifecycle.evaluation import render_markdown

    base = manifest.get("base") or "none (self-contained weights)"
    train = info.get("train", {})
    headline = report["model"]
    lines = [
        f"# textrepair release: {manifest['family']} ({manifest['size']})",
        "",
        "Restores text damaged by deletions, substitutions, insertions, duplications and "
        "reversals of character spans. Load it with `Repairer.load(path)` or register it with "
        "`dvc repro` (`train.release` in params.yaml points here).",
        "",
        "| | |",
        "|---|---|",
        f"| family | `{manifest['family']}` |",
        f"| weights | {manifest['weights']} (safetensors), {manifest['parameters']:,} parameters |",
        f"| base model | {base} |",
        _architecture_row(manifest),
        f"| training | {_training_summary(info)} |",
        f"| training params | `{json.dumps(train, sort_keys=True)}` |",
        f"| data version (DVC hash of gold) | `{info.get('data_version', 'unknown')}` |",
        f"| git commit | `{info.get('git_commit', 'unknown')}` |",
        "",
        "## Reproduce",
        "",
        "```bash",
        info.get("command", "textrepair train --from-scratch"),
        "```",
        "",
        "## Headline (main-profile test rows)",
        "",
        f"CER {_pct(headline['cer_in'])} → {_pct(headline['cer_out'])}, reduction "
        f"{_pct(headline['cer_reduction'])}; exact match {_pct(headline['exact_match'])}; "
        f"broken rate {_pct(headline['broken_rate'])}.",
        "",
    ]
    lines += _validation_section(info.get("validation"))
    # The full evaluation, its headings one level down.
    lines += [
        "#" + line if line.startswith("#") else line
        for line in render_markdown(report).splitlines()
    ]
    return "\n".join(lines) + "\n"


def _architecture_row(manifest: dict[str, Any]) -> str:
    config = manifest["config"]
    if manifest["family"] == "edit":
        from textrepair.model.edit import EDIT_PRESETS

        preset = ", ".join(f"{k}={v}" for k, v in EDIT_PRESETS[manifest["size"]].items())
        decoding = {k: config["edit"][k] for k in ("keep_threshold", "gap_threshold")}
        decoding |= {k: config["edit"][k] for k in ("fill_rounds", "refine_rounds")}
        return f"| encoder | {preset}; decoding `{json.dumps(decoding)}` |"
    return f"| LoRA | r={config['lora']['r']}, alpha={config['lora']['alpha']} |"


def _validation_section(validation: dict[str, float] | None) -> list[str]:
    """The edit family's tagging scores on gold/validation (precision/recall per action)."""
    if not validation:
        return []
    lines = [
        f"## Tagging on gold/validation ({int(validation.get('rows', 0))} main-profile rows)",
        "",
        "| tag | precision | recall |",
        "|---|---|---|",
    ]
    for tag in ("keep", "drop", "reversed", "replaced", "gap"):
        precision = validation.get(f"eval_tag_{tag}_precision")
        recall = validation.get(f"eval_tag_{tag}_recall")
        lines.append(f"| {tag} | {_ratio(precision)} | {_ratio(recall)} |")
    lines += [
        "",
        f"Gap-length accuracy (true deletions whose exact length is predicted): "
        f"{_ratio(validation.get('eval_tag_gap_length_accuracy'))}. Validation CER "
        f"{_ratio(validation.get('eval_cer_in'))} → {_ratio(validation.get('eval_cer_out'))}.",
        "",
    ]
    return lines


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _pct(metric: dict[str, Any]) -> str:
    value = metric.get("value")
    return "n/a" if value is None else f"{value:.2%}"


def _training_summary(info: dict[str, Any]) -> str:
    summary = f"{info.get('steps', '?')} steps, stopped by {info.get('stopped_by', '?')}"
    best = info.get("best_step")
    if best is not None and best != info.get("steps"):
        summary += f"; weights of step {best}, the lowest validation loss"
    return summary


def build_hybrid(
    first: Path,
    second: Path,
    out_dir: Path,
    second_guard_span: int | None = None,
    gate: float | None = None,
) -> Path:
    """A hybrid model directory: `first`'s model, whose output `second`'s model repairs again.

    Files are relative symbolic links to the two releases, so the hybrid adds no weights to git;
    copying, logging to MLflow or exporting it follows the links and takes both models along.
    `second_guard_span` sets the second model's guard (`guard_span_chars`) in the hybrid only:
    the best guard for an already repaired text need not be the best for damaged text. With a
    `gate` (an edit model first), windows it tags as clean with at least that confidence skip
    the second model.
    """
    manifest = read_manifest(first)
    second_manifest = read_manifest(second)  # both must be loadable textrepair models
    if SECOND_OPINION_KEY in manifest:
        raise ReleaseError(f"{first} is already a hybrid")
    manifest[SECOND_OPINION_KEY] = SECOND_OPINION_KEY
    if gate is not None:
        manifest[SECOND_OPINION_GATE_KEY] = gate
    try:
        second_opinion_gate(out_dir, manifest)  # the check loading the hybrid makes
    except ModelLoadError as error:
        raise ReleaseError(str(error)) from error
    if second_guard_span is not None:
        second_manifest["config"]["guard_span_chars"] = second_guard_span
        ModelConfig.model_validate(second_manifest["config"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        # The training curves are the first model's: the train stage adopting the hybrid wants some.
        _link_files(first, partial, skip={MANIFEST, CARD_FILE, REPORT_FILE})
        # The second manifest is linked unless the hybrid sets its own guard in a copy.
        skip = set() if second_guard_span is None else {MANIFEST}
        _link_files(second, partial / SECOND_OPINION_KEY, skip=skip)
        if second_guard_span is not None:
            write_manifest(partial / SECOND_OPINION_KEY, second_manifest)
        write_manifest(partial, manifest)
        command = f"textrepair hybrid --out {out_dir} --first {first} --second {second}"
        if second_guard_span is not None:
            command += f" --second-guard-span {second_guard_span}"
        if gate is not None:
            command += f" --gate {gate}"
        guard = second_manifest["config"]["guard_span_chars"]
        card = hybrid_card(first, second, guard, gate, command)
        (partial / CARD_FILE).write_text(card, encoding="utf-8")
        partial.chmod(0o755)  # mkdtemp made it private
        return replace_dir(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _link_files(source: Path, target: Path, skip: set[str]) -> None:
    target.mkdir(exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name not in skip:
            relative = os.path.relpath(path.resolve(), target.resolve())
            (target / path.name).symlink_to(relative)


def hybrid_card(
    first: Path, second: Path, guard_span: int, gate: float | None, command: str
) -> str:
    gated = (
        ""
        if gate is None
        else f"A window the first model tags as clean with a confidence of at least {gate} (every "
        "character's P(keep) and every slot's P(no gap)) skips the second model. "
    )
    return (
        f"# textrepair hybrid: {first.name} + {second.name}\n\n"
        f"The model of [{first.name}](../{first.name}/README.md) repairs each window first; the "
        f"model of [{second.name}](../{second.name}/README.md) then repairs its output and keeps "
        f"only its own local changes (its guard: changes of at most {guard_span} characters). "
        f"{gated}The weights are links to those two releases; "
        "their cards give the training of each. `evaluation.json`, when present, is the hybrid's "
        "own evaluation (`textrepair evaluate --model` this directory).\n\n"
        "Load it like any model directory: `Repairer.load(path)`; copying or logging it to MLflow "
        "follows the links. Measured against its parts in docs/model.md (the hybrid section).\n\n"
        f"Built with:\n\n```bash\n{command}\n```\n"
    )
