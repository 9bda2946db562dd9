"""The MLflow model: a custom pyfunc wrapping Repairer, with explicit pip requirements.

The pyfunc is for `mlflow models serve` only. textrepair itself loads a registered model from
its files (`load_repairer`): loading the pyfunc would unpickle whatever a registrant uploaded.

MLflow's transformers flavor is not used: it relies on the `text2text-generation` pipeline that
transformers 5 removed, and it adds torchvision to the requirements.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

if TYPE_CHECKING:
    from textrepair.model.repairer import Repairer

ARTIFACT_KEY = "model_dir"
INPUT_EXAMPLE = pd.DataFrame({"text": ["Teh quick brwon fox jumsp over the lazzy dog."]})
# Importable names of what the model needs at load time, pinned to what is installed now.
_REQUIREMENTS = ("torch", "transformers", "safetensors", "peft", "rapidfuzz", "pandas", "mlflow")
_REGISTERED_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?")


class RepairerModel(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with a `text` column (or a list of strings).
    Output: `repaired`, `edits` (JSON list of spans) and `changed`, one row per input."""

    def load_context(self, context: Any) -> None:
        from textrepair.model.repairer import Repairer

        self.repairer = Repairer.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: Any, params: dict | None = None) -> pd.DataFrame:
        results = self.repairer.repair(_texts(model_input))
        return pd.DataFrame(
            {
                "repaired": [r.text for r in results],
                "edits": [json.dumps([asdict(e) for e in r.edits]) for r in results],
                "changed": [r.changed for r in results],
            }
        )


def _texts(model_input: Any) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        if "text" not in model_input.columns:
            raise ValueError("model input needs a 'text' column")
        column = model_input["text"]
    elif isinstance(model_input, pd.Series):
        column = model_input
    else:
        column = pd.Series(list(model_input))
    return ["" if value is None else str(value) for value in column.tolist()]


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in _REQUIREMENTS]


def log_repairer(model_dir: Path, registered_name: str | None = None) -> Any:
    """Log `model_dir` as the pyfunc `model` of the active run (and register it if named)."""
    output = pd.DataFrame({"repaired": ["x"], "edits": ["[]"], "changed": [False]})
    package = Path(__file__).resolve().parents[1]
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=RepairerModel(),
        artifacts={ARTIFACT_KEY: str(model_dir)},
        code_paths=[str(package)],  # the textrepair package travels with the model
        pip_requirements=pip_requirements(),
        signature=infer_signature(INPUT_EXAMPLE, output),
        input_example=INPUT_EXAMPLE,
        registered_model_name=registered_name,
    )


def download_model_dir(uri: str, target: Path) -> Path:
    """Download a registered textrepair model's files to `target`; return the model directory.

    Only files are fetched and only MLmodel (safe YAML) is parsed: nothing is unpickled and no
    bundled code is imported, so a registered version cannot run code in the process loading it.
    """
    import yaml

    source = _version_source(uri)
    root = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(target)))
    mlmodel = yaml.safe_load((root / "MLmodel").read_text(encoding="utf-8"))
    artifacts = mlmodel["flavors"]["python_function"].get("artifacts", {})
    if ARTIFACT_KEY not in artifacts:
        raise ValueError(f"{uri} is not a textrepair model (no {ARTIFACT_KEY!r} artifact)")
    model_dir = (root / artifacts[ARTIFACT_KEY]["path"]).resolve()
    if not model_dir.is_relative_to(root.resolve()):  # an MLmodel may not point elsewhere
        raise ValueError(f"{uri}: the {ARTIFACT_KEY!r} artifact lies outside the model")
    return model_dir


def _version_source(uri: str) -> str:
    """Where a `models:/name/N` or `models:/name@alias` version's files are; other URIs as is."""
    match = _REGISTERED_URI.fullmatch(uri)
    if not match:
        return uri
    client = mlflow.MlflowClient()
    if match["alias"]:
        return client.get_model_version_by_alias(match["name"], match["alias"]).source
    return client.get_model_version(match["name"], match["version"]).source


def load_repairer(source: str) -> Repairer:
    """The Repairer of a model directory, or of a registered model URI (models:/name@alias).

    A registered model is loaded from its downloaded files, never through
    `mlflow.pyfunc.load_model` (which unpickles python_model.pkl): serving, batch, stream and UI
    all come here or to `Repairer.load`.
    """
    from textrepair.model.repairer import Repairer
    from textrepair.model.source import is_model_dir

    if is_model_dir(source):
        return Repairer.load(source)
    # The weights are read into memory, so the download is not needed after the load.
    with tempfile.TemporaryDirectory(prefix="textrepair-model-") as tmp:
        return Repairer.load(download_model_dir(source, Path(tmp)))
