"""The service's one call into `Repairer`; the batch and stream jobs can share it for parity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textrepair.model.repairer import RepairResult

# Decoding attributes of Repairer a request may set for its own call.
DECODING_OPTIONS = frozenset({"num_beams"})


def predict(
    repairer: Any, texts: list[str], options: Mapping[str, Any] | None = None
) -> list[RepairResult]:
    """Repair `texts` with per-call decoding options; the repairer is left as it was.

    Not thread-safe (it sets attributes for the call): run it on one thread per repairer.
    """
    changes = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = set(changes) - DECODING_OPTIONS
    if unknown:
        raise ValueError(f"unknown decoding options {sorted(unknown)}")
    saved = {name: getattr(repairer, name) for name in changes}
    try:
        for name, value in changes.items():
            setattr(repairer, name, value)
        return repairer.repair(texts)
    finally:
        for name, value in saved.items():
            setattr(repairer, name, value)
