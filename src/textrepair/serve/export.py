"""`textrepair export`: a self-contained model directory for images (no MLflow at run time)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from textrepair.model.families import merge_adapter, read_manifest, second_opinion_dir
from textrepair.model.source import SERVING_INFO, ModelInfo, is_model_dir, resolve


def export_model(source: str, output: Path, tracking_uri: str | None = None) -> ModelInfo:
    """Copy the model files of `source` to `output` with a serving.json naming the version.

    A LoRA adapter (a hybrid's second model too) is merged into its base, so the copy needs
    neither MLflow nor the base (an image may have no package registry to fetch it from).
    `output` must not exist or be empty. The result is loaded once as a check.
    """
    from textrepair.model.repairer import Repairer

    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty")
    target, info = resolve(source, tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = _model_files(target, Path(tmp), tracking_uri)
        shutil.copytree(model_dir, output, dirs_exist_ok=True)
    merge_adapter(output)
    second = second_opinion_dir(output, read_manifest(output))
    if second is not None:
        merge_adapter(second)
    _make_readable(output)
    (output / SERVING_INFO).unlink(missing_ok=True)
    record = {**info.to_dict(), "exported_from": target, "exported_at": _now()}
    (output / SERVING_INFO).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    Repairer.load(output)  # fails here, not in the image, if something is missing
    return ModelInfo(info.name, info.version, info.alias, str(output))


def _model_files(target: str, tmp: Path, tracking_uri: str | None) -> Path:
    if is_model_dir(target):
        return Path(target)
    import mlflow

    from textrepair.model.pyfunc import download_model_dir

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return download_model_dir(target, tmp)


def _make_readable(folder: Path) -> None:
    # transformers writes weights through a private temporary file (mode 0600): an image that runs
    # as another user than the one who copied them in could not read them.
    for file in folder.rglob("*"):
        if file.is_file():
            file.chmod(file.stat().st_mode | 0o444)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
