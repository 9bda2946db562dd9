"""The MLflow model: a custom pyfunc wrapping Repairer, with explicit pip requirements.

MLflow's transformers flavor is not used: it relies on the `text2text-generation` pipeline that
transformers 5 removed, and it adds torchvision to the requirements.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

ARTIFACT_KEY = "model_dir"
INPUT_EXAMPLE = pd.DataFrame({"text": ["Teh quick brwon fox jumsp over the lazzy dog."]})
# Importable names of what the model needs at load time, pinned to what is installed now.
_REQUIREMENTS = ("torch", "transformers", "safetensors", "peft", "rapidfuzz", "pandas", "mlflow")


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
    """Download a registered textrepair pyfunc to `target`; return the model directory in it."""
    import yaml

    root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))
    mlmodel = yaml.safe_load((root / "MLmodel").read_text(encoding="utf-8"))
    artifacts = mlmodel["flavors"]["python_function"].get("artifacts", {})
    if ARTIFACT_KEY not in artifacts:
        raise ValueError(f"{uri} is not a textrepair model (no {ARTIFACT_KEY!r} artifact)")
    return root / artifacts[ARTIFACT_KEY]["path"]


def load_repairer(source: str) -> Any:
    """The Repairer of a model directory, or of a registered model URI (models:/name@alias)."""
    from textrepair.model.families import MANIFEST
    from textrepair.model.repairer import Repairer

    if (Path(source) / MANIFEST).is_file():
        return Repairer.load(source)
    return mlflow.pyfunc.load_model(source).unwrap_python_model().repairer
