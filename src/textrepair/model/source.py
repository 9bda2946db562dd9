"""Which model a source names: the one place serve, scoring, the app and the CLI resolve models.

A source is a model directory (e.g. written by `textrepair export`), `models:/name@alias`,
`models:/name/version`, or another MLflow URI (`runs:/...`). An alias is resolved to its version
first and that exact version is loaded, so the version reported is the one that runs.

Every path gives the same version id for the same model, which the prediction log records:
- a registered version: its number, e.g. ``3`` (also for a directory exported from it, whose
  serving.json names it);
- any other model directory: ``dir:<name>@<sha256 of its weights and manifest, 12 hex>``, which
  changes whenever the weights do;
- any other URI: the URI itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from textrepair.hashing import sha256_files

if TYPE_CHECKING:
    from textrepair.config import Settings

SERVING_INFO = "serving.json"  # written by `textrepair export` next to the model files
CHAMPION = "champion"
_ALIAS_URI = re.compile(r"models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)/?")
_VERSION_URI = re.compile(r"models:/(?P<name>[^/@]+)/(?P<version>\d+)/?")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str  # see the module docstring
    alias: str | None
    source: str  # what was asked for: a directory, a model URI, or the API's URL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        alias = f" @{self.alias}" if self.alias else ""
        return f"{self.name} version {self.version}{alias} ({self.source})"


def champion_uri(settings_or_model_name: Settings | str) -> str:
    """`models:/<registry.model_name>@champion`, from the settings or the model name."""
    name = settings_or_model_name
    if not isinstance(name, str):
        name = name.registry.model_name
    return f"models:/{name}@{CHAMPION}"


def load(settings: Settings, source: str | None = None) -> tuple[Any, ModelInfo]:
    """The Repairer that `source` names (default: the champion) and what it is.

    An alias is pinned first, so the Repairer is the version the info names even if the alias
    moves meanwhile. Registry and loading errors propagate: callers say what failed.
    """
    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.pyfunc import load_repairer

    source = source or champion_uri(settings)
    if not is_model_dir(source):
        configure_mlflow(settings.mlflow)
    target, info = resolve(source)
    return load_repairer(target), info


def is_model_dir(source: str | Path) -> bool:
    """True when `source` is a directory holding a textrepair model (its manifest)."""
    from textrepair.model.families import MANIFEST

    return (Path(source) / MANIFEST).is_file()


def is_alias_uri(source: str) -> bool:
    """True for `models:/name@alias`: the version it names can move."""
    return _ALIAS_URI.fullmatch(source) is not None


def resolve(source: str, tracking_uri: str | None = None) -> tuple[str, ModelInfo]:
    """(what to load, what it is). An alias becomes the exact version it points at now.

    `tracking_uri` None: the registry MLflow is configured with (`tracking.configure_mlflow`).
    """
    if match := _ALIAS_URI.fullmatch(source):
        from mlflow import MlflowClient

        name, alias = match["name"], match["alias"]
        version = str(MlflowClient(tracking_uri).get_model_version_by_alias(name, alias).version)
        return f"models:/{name}/{version}", ModelInfo(name, version, alias, source)
    if match := _VERSION_URI.fullmatch(source):
        return source, ModelInfo(match["name"], match["version"], None, source)
    if is_model_dir(source):
        return source, _directory_info(Path(source))
    if len(urlparse(source).scheme) <= 1:  # a path (or a Windows drive), not a URI
        from textrepair.model.families import MANIFEST

        raise FileNotFoundError(f"no textrepair model at {source}: {MANIFEST} does not exist")
    return source, ModelInfo(source, source, None, source)


def _directory_info(path: Path) -> ModelInfo:
    """The registry identity an exported directory carries, else the directory's own id."""
    try:
        saved = json.loads((path / SERVING_INFO).read_text(encoding="utf-8"))
        return ModelInfo(saved["name"], str(saved["version"]), saved.get("alias"), str(path))
    except (OSError, ValueError, KeyError, TypeError):
        return ModelInfo(path.resolve().name, _directory_version(path), None, str(path))


def _directory_version(path: str | Path) -> str:
    """dir:<name>@<hash of the weights and manifest>: changes whenever the weights change."""
    from textrepair.model.families import MANIFEST

    path = Path(path).resolve()
    digest = sha256_files([*sorted(path.glob("*.safetensors")), path / MANIFEST])
    return f"dir:{path.name}@{digest[:12]}"
