"""The mutation engine: DNA-like damage to text, recorded so it can be undone.

Every event is a `Mutation` in *original* coordinates: the span ``clean[start:start+length]``
(``original``) became ``replacement`` in the corrupted text. One shape covers all five types:

    deletion      original=span        replacement=""
    substitution  original=span        replacement=random chars, each differing from the original
    insertion     original=""          replacement=random chars        (length 0)
    duplication   original=span        replacement=span + span         (tandem duplication)
    reversal      original=span        replacement=span[::-1]          (inversion)

Events never overlap or touch: at least one untouched original character separates them, so
`restore` can rebuild the clean text from the corrupted text and the records alone.

Randomness comes only from `row_rng(seed, row_id)`, so a row's damage does not depend on Spark
partitioning, worker count or the order in which rows are processed.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from textrepair.config import MutationSpec, MutationType

# Random characters for substitutions and insertions: printable ASCII letters, digits,
# punctuation and space, the kind of noise OCR, typing and transmission errors produce.
NOISE_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " "
# A gap or span length beyond any text: what a geometric draw gives when p underflows.
_NEVER = 2**62


@dataclass(frozen=True, slots=True)
class Mutation:
    """One damage event, in the coordinates of the clean text."""

    type: str
    start: int
    length: int
    original: str
    replacement: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def row_rng(seed: int, row_id: str, salt: str = "") -> random.Random:
    """A generator that depends only on (seed, row id, salt): stable across machines and runs."""
    digest = hashlib.blake2b(f"{seed}\x1f{row_id}\x1f{salt}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class Mutator:
    """Applies one mutation profile. Build once, call `mutate` per row."""

    def __init__(self, profile: Mapping[MutationType | str, MutationSpec]) -> None:
        self._types = [MutationType(t).value for t, spec in profile.items() if spec.rate > 0]
        self._specs = {MutationType(t).value: spec for t, spec in profile.items()}
        weights = [self._specs[t].rate for t in self._types]
        self.rate_per_char = sum(weights) / 100
        self._cum_weights = _cumulative(weights)
        # A scan skips the characters an event consumes (plus one separating character), which
        # would lower the observed rate; raising the per-position probability compensates.
        consumed = sum(
            self._specs[t].rate * (0 if t == "insertion" else expected_length(self._specs[t], t))
            for t in self._types
        ) / max(sum(weights), 1e-12)
        density = self.rate_per_char / max(1e-12, 1 - self.rate_per_char * consumed)
        self._event_probability = min(density, 0.95)

    def mutate(self, text: str, rng: random.Random) -> tuple[str, list[Mutation]]:
        """Return the corrupted text and the events, in order of position."""
        if not self._types or not text:
            return text, []
        events: list[Mutation] = []
        position = self._next_event(0, rng)
        while position < len(text):
            event = self._make_event(text, position, rng)
            if event is not None:
                events.append(event)
                position += event.length
            position = self._next_event(position + 1, rng)
        return apply(text, events), events

    def _next_event(self, position: int, rng: random.Random) -> int:
        # Geometric gap: the number of untouched positions before the next event starts.
        return position + _geometric(rng.random(), self._event_probability)

    def _make_event(self, text: str, start: int, rng: random.Random) -> Mutation | None:
        kind = rng.choices(self._types, cum_weights=self._cum_weights)[0]
        spec = self._specs[kind]
        length = sample_length(spec, kind, rng)
        if kind == "insertion":
            noise = "".join(rng.choice(NOISE_ALPHABET) for _ in range(length))
            return Mutation(kind, start, 0, "", noise)
        span = text[start : start + length]
        if kind == "deletion":
            return Mutation(kind, start, len(span), span, "")
        if kind == "substitution":
            return Mutation(kind, start, len(span), span, _substitute(span, rng))
        if kind == "duplication":
            return Mutation(kind, start, len(span), span, span + span)
        reversed_span = span[::-1]
        if reversed_span == span:  # a palindrome (or one character) is not damaged by reversal
            return None
        return Mutation(kind, start, len(span), span, reversed_span)


def expected_length(spec: MutationSpec, kind: str = "") -> float:
    """Mean span length of `spec` after the cap (and reversal's minimum of two)."""
    q = 1.0 / spec.mean_length
    minimum = 2 if kind == "reversal" else 1
    total = 0.0
    for k in range(1, spec.max_length + 1):
        mass = (1 - q) ** (k - 1) * q if k < spec.max_length else (1 - q) ** (k - 1)
        total += max(k, minimum) * mass
    return total


def sample_length(spec: MutationSpec, kind: str, rng: random.Random) -> int:
    """Geometric span length with the profile's mean, capped at max_length."""
    q = 1.0 / spec.mean_length
    length = 1 if q >= 1 else 1 + _geometric(rng.random(), q)
    length = min(length, spec.max_length)
    return max(length, 2) if kind == "reversal" else length


def apply(text: str, events: Sequence[Mutation]) -> str:
    """Apply non-overlapping events (sorted by start) to the clean text."""
    pieces: list[str] = []
    cursor = 0
    for event in events:
        pieces.append(text[cursor : event.start])
        pieces.append(event.replacement)
        cursor = event.start + event.length
    pieces.append(text[cursor:])
    return "".join(pieces)


def restore(corrupted: str, events: Sequence[Mutation]) -> str:
    """Rebuild the clean text from the corrupted text and its event records.

    Raises ValueError when the records do not match the corrupted text.
    """
    pieces: list[str] = []
    cursor = 0  # position in the corrupted text
    shift = 0  # corrupted position minus original position so far
    for event in events:
        at = event.start + shift
        if corrupted[at : at + len(event.replacement)] != event.replacement:
            raise ValueError(f"record {event} does not match the corrupted text at {at}")
        pieces.append(corrupted[cursor:at])
        pieces.append(event.original)
        cursor = at + len(event.replacement)
        shift += len(event.replacement) - event.length
    pieces.append(corrupted[cursor:])
    return "".join(pieces)


def damaged_characters(events: Sequence[Mutation]) -> int:
    """Characters touched by the events: removed, replaced, inserted, duplicated or reversed."""
    return sum(max(e.length, len(e.replacement) - e.length) for e in events)


def damage_or_keep(
    clean: str, mutator: Mutator, rng: random.Random, clean_fraction: float
) -> tuple[str, list[Mutation]]:
    """Damage `clean`, except that a `clean_fraction` share of draws keep it as it is (so a model
    learns to leave good text alone)."""
    if rng.random() < clean_fraction:
        return clean, []
    return mutator.mutate(clean, rng)


def mutate_text(
    text: str,
    profile: Mapping[MutationType | str, MutationSpec],
    seed: int = 0,
    row_id: str = "",
) -> tuple[str, list[Mutation]]:
    """Convenience wrapper: corrupt one text deterministically from (seed, row_id)."""
    return Mutator(profile).mutate(text, row_rng(seed, row_id))


def _geometric(u: float, p: float) -> int:
    """Failures before the first success at probability p, from a uniform draw u in [0, 1)."""
    denominator = math.log(1.0 - p)
    if denominator == 0.0:  # p is zero or below float resolution: success practically never comes
        return _NEVER
    return int(math.log(1.0 - u) / denominator)


def _substitute(span: str, rng: random.Random) -> str:
    out = []
    for char in span:
        new = rng.choice(NOISE_ALPHABET)
        while new == char:
            new = rng.choice(NOISE_ALPHABET)
        out.append(new)
    return "".join(out)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out
