"""Which model serves: resolve a source to a version, load it, and swap it without downtime.

A source is a model directory (e.g. written by `textrepair export`), `models:/name@alias` or
`models:/name/version`. An alias is resolved to its version first and that exact version is
loaded, so the version the service reports is the one it runs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from textrepair.model.families import MANIFEST

SERVING_INFO = "serving.json"  # written by `textrepair export` next to the model files
_ALIAS_URI = re.compile(r"models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)")
_VERSION_URI = re.compile(r"models:/(?P<name>[^/@]+)/(?P<version>\d+)")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    alias: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Loaded:
    repairer: Any
    info: ModelInfo


def resolve(source: str, tracking_uri: str | None = None) -> tuple[str, ModelInfo]:
    """(what to load, what it is). Aliases become the exact version they point at now."""
    if match := _ALIAS_URI.fullmatch(source):
        from mlflow import MlflowClient

        name, alias = match["name"], match["alias"]
        version = MlflowClient(tracking_uri).get_model_version_by_alias(name, alias).version
        return f"models:/{name}/{version}", ModelInfo(name, str(version), alias, source)
    if match := _VERSION_URI.fullmatch(source):
        return source, ModelInfo(match["name"], match["version"], None, source)
    path = Path(source)
    if (path / MANIFEST).is_file():
        return source, _directory_info(path)
    if len(urlparse(source).scheme) <= 1:  # a path (or a Windows drive), not a URI
        raise FileNotFoundError(f"no textrepair model at {source}: {MANIFEST} does not exist")
    return source, ModelInfo(source, "unknown", None, source)


def _directory_info(path: Path) -> ModelInfo:
    """The registry identity an exported directory carries, else the directory's name."""
    try:
        saved = json.loads((path / SERVING_INFO).read_text(encoding="utf-8"))
        return ModelInfo(saved["name"], str(saved["version"]), saved.get("alias"), str(path))
    except (OSError, ValueError, KeyError, TypeError):
        return ModelInfo(path.resolve().name, "local", None, str(path))


def load(target: str, info: ModelInfo, tracking_uri: str | None = None) -> Loaded:
    """Load a resolved `target` (see `resolve`) and warm it up."""
    from textrepair.model.pyfunc import load_repairer

    if tracking_uri:
        import mlflow

        # Only the URI: configure_mlflow would also create an experiment, which serving must not.
        mlflow.set_tracking_uri(tracking_uri)
    repairer = load_repairer(target)
    # One tiny call before the model serves: the first request is not slowed by lazy set-up, and
    # a model that loads but cannot run fails here, while the old one still serves.
    repairer.repair(["warm up"])
    return Loaded(repairer, info)


class ModelSlot:
    """Holds the serving model. Readers take `current` once per batch; `reload` swaps atomically,
    so a batch in flight finishes on the model it started with."""

    def __init__(
        self, source: str, tracking_uri: str | None = None, loaded: Loaded | None = None
    ) -> None:
        self.source = source
        self.tracking_uri = tracking_uri
        self._current = loaded
        self._marker = self._directory_marker()
        self.last_error: str | None = None
        self._failed_version: str | None = None
        self._reload_lock = threading.Lock()  # one load at a time; serving goes on meanwhile

    @property
    def current(self) -> Loaded | None:
        return self._current

    def reload(self) -> Loaded:
        """Load the source again and swap it in; on failure keep the old model and raise."""
        with self._reload_lock:
            info = None
            try:
                target, info = resolve(self.source, self.tracking_uri)
                new = load(target, info, self.tracking_uri)
            except Exception as error:
                # Polling does not retry a version that failed; a newer one or an admin call will.
                self._failed_version = info.version if info else None
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("model load from %s failed: %s", self.source, self.last_error)
                raise
            self._current, self.last_error = new, None
            self._marker = self._directory_marker()
            log.info("serving %s", new.info.to_dict())
            return new

    def has_update(self) -> bool:
        """True when the alias now names another version (or an exported directory changed)."""
        current = self._current
        if current is None:
            return True
        if _ALIAS_URI.fullmatch(self.source):
            _, info = resolve(self.source, self.tracking_uri)
            return info.version not in (current.info.version, self._failed_version)
        return self._directory_marker() != self._marker

    def _directory_marker(self) -> float | None:
        try:
            return (Path(self.source) / MANIFEST).stat().st_mtime
        except OSError:
            return None
