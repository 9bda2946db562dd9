"""The MLflow registry decides which model serves: aliases, never deprecated stages.

`promote` marks a version `@challenger`, scores it and the current `@champion` on the same test
set, and moves `@champion` only when the challenger's CER is lower by the configured relative
margin and its broken rate is within the limit. Every decision and its numbers are recorded as
version tags.

The registry has no compare-and-swap, so every move checks what it acts on just before it acts:
`promote` refuses when the champion changed while it scored, `rollback` when the alias is not
where the history says. The champion history is append-only, one registered-model tag per move
(`champion_history.<time>.<nonce>`): two processes that move the alias at once each add their own
tag, and neither can overwrite the other's entry.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from textrepair.config import RegistryConfig
from textrepair.model.source import CHAMPION

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
# Before the history was append-only it was one JSON list in this tag: read as its first moves.
HISTORY_TAG = "champion_history"
HISTORY_ENTRY_PREFIX = HISTORY_TAG + "."

# Scores one model version on the shared test set: returns {"cer_out": ..., "broken_rate": ...}.
Scorer = Callable[[str], dict[str, float]]


class RegistryError(RuntimeError):
    """A registry operation cannot be done (no such version, nothing to roll back to...)."""


class AlreadyChampionError(RegistryError):
    """The version to promote already is the champion: nothing to decide."""


class ChampionChangedError(RegistryError):
    """The champion moved while a promotion scored against it: the comparison is stale."""


@dataclass
class Decision:
    challenger: str
    champion_before: str | None
    promoted: bool
    reason: str
    challenger_cer: float
    challenger_broken_rate: float
    champion_cer: float | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def latest_version(client: MlflowClient, name: str) -> str:
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise RegistryError(f"model {name!r} has no registered versions: train and register first")
    return str(max(int(v.version) for v in versions))


def decide(
    challenger: dict[str, float], champion: dict[str, float] | None, config: RegistryConfig
) -> tuple[bool, str]:
    """Whether the challenger should serve, and why."""
    broken = challenger["broken_rate"]
    if broken > config.max_broken_rate:
        return False, f"broken rate {broken:.4f} above the limit {config.max_broken_rate:.4f}"
    if champion is None:
        return True, "no champion yet"
    needed = champion["cer_out"] * (1 - config.cer_margin)
    if challenger["cer_out"] <= needed:
        return True, (
            f"CER {challenger['cer_out']:.4f} beats the champion's {champion['cer_out']:.4f} "
            f"by at least {config.cer_margin:.0%}"
        )
    return False, (
        f"CER {challenger['cer_out']:.4f} does not beat the champion's "
        f"{champion['cer_out']:.4f} by {config.cer_margin:.0%} (needs <= {needed:.4f})"
    )


def promote(
    client: MlflowClient, config: RegistryConfig, score: Scorer, version: str | None = None
) -> Decision:
    """Challenge the champion with `version` (default: the latest) and record the decision."""
    name = config.model_name
    version = version or latest_version(client, name)
    client.get_model_version(name, version)  # raises a clear MlflowException if missing
    client.set_registered_model_alias(name, CHALLENGER, version)
    champion = alias_version(client, name, CHAMPION)
    if champion == version:
        raise AlreadyChampionError(f"version {version} is already @{CHAMPION}")
    challenger_scores = score(version)
    champion_scores = score(champion) if champion else None
    promoted, reason = decide(challenger_scores, champion_scores, config)
    decision = Decision(
        challenger=version,
        champion_before=champion,
        promoted=promoted,
        reason=reason,
        challenger_cer=challenger_scores["cer_out"],
        challenger_broken_rate=challenger_scores["broken_rate"],
        champion_cer=champion_scores["cer_out"] if champion_scores else None,
    )
    # Scoring takes minutes: another promote or rollback may have moved the alias meanwhile.
    # Checked last, right before the move, so the window between check and move is one call.
    champion_now = alias_version(client, name, CHAMPION)
    if champion_now != champion:
        raise ChampionChangedError(
            f"@{CHAMPION} moved from version {champion} to {champion_now} while version "
            f"{version} was scored against it: nothing changed; run promote again"
        )
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        _append_history(client, name, {"action": "promote", "version": version})
    _record(client, name, decision)
    log.info("promotion of version %s: %s (%s)", version, promoted, reason)
    return decision


def rollback(client: MlflowClient, config: RegistryConfig) -> str:
    """Give @champion back to the previous champion; return that version.

    Refuses when @champion is not the version the history ends with (the alias was moved by
    hand, or by a move that is still under way): rolling back would skip a champion.
    """
    name = config.model_name
    champions = champion_stack(client, name)
    current = alias_version(client, name, CHAMPION)
    if champions and champions[-1] != current:
        raise RegistryError(
            f"the champion history of {name!r} ends with version {champions[-1]} but @{CHAMPION} "
            f"is version {current}: refusing to roll back; set the alias by hand"
        )
    if len(champions) < 2:
        raise RegistryError(f"model {name!r} has no previous champion to roll back to")
    retired, previous = champions[-1], champions[-2]
    client.set_registered_model_alias(name, CHAMPION, previous)
    _append_history(client, name, {"action": "rollback", "version": previous, "retired": retired})
    client.set_model_version_tag(name, retired, "rolled_back", "true")
    log.info("rolled back @%s from version %s to %s", CHAMPION, retired, previous)
    return previous


def champion_stack(client: MlflowClient, name: str) -> list[str]:
    """The champions in order, the current one last: promotes push, rollbacks pop."""
    tags = client.get_registered_model(name).tags
    champions = [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]
    entries = sorted(key for key in tags if key.startswith(HISTORY_ENTRY_PREFIX))
    for key in entries:
        entry = json.loads(tags[key])
        if entry["action"] == "rollback" and champions:
            champions.pop()
        if not champions or champions[-1] != entry["version"]:
            champions.append(entry["version"])
    return champions


def _append_history(client: MlflowClient, name: str, entry: dict[str, str]) -> None:
    # A new tag per move, never a rewrite: keys sort by time, the nonce keeps them unique.
    key = f"{HISTORY_ENTRY_PREFIX}{time.time_ns():020d}.{uuid.uuid4().hex[:8]}"
    entry = {**entry, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    client.set_registered_model_tag(name, key, json.dumps(entry))


def _record(client: MlflowClient, name: str, decision: Decision) -> None:
    tags = {
        "promotion.decision": "promoted" if decision.promoted else "rejected",
        "promotion.reason": decision.reason,
        "promotion.challenger_cer": f"{decision.challenger_cer:.6f}",
        "promotion.challenger_broken_rate": f"{decision.challenger_broken_rate:.6f}",
        "promotion.champion_version": decision.champion_before or "none",
        "promotion.champion_cer": (
            "none" if decision.champion_cer is None else f"{decision.champion_cer:.6f}"
        ),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.challenger, key, value)
