"""Which model serves: load the version a source resolves to, and swap it without downtime.

Sources and version ids are `model.source`'s: an alias is resolved to its version first and that
exact version is loaded, so the version the service reports is the one it runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrepair.model.families import MANIFEST
from textrepair.model.source import ModelInfo, is_alias_uri, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    repairer: Any
    info: ModelInfo


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
        if is_alias_uri(self.source):
            _, info = resolve(self.source, self.tracking_uri)
            return info.version not in (current.info.version, self._failed_version)
        return self._directory_marker() != self._marker

    def _directory_marker(self) -> float | None:
        try:
            return (Path(self.source) / MANIFEST).stat().st_mtime
        except OSError:
            return None
