"""Per-text features shared by the prediction log and the drift monitor.

The log stores these numbers, never the text itself, so it can be kept and shared without holding
users' input. The monitor computes the same numbers on gold/train, so both sides are comparable.
"""

from __future__ import annotations

import unicodedata

from rapidfuzz.distance import Levenshtein

CHAR_CLASSES = ("letters", "digits", "spaces", "punctuation", "other")


def damage_rate(damaged: str, repaired: str) -> float:
    """Levenshtein distance damaged→repaired per character of the damaged text (0 when empty).

    On a prediction it estimates how damaged the input was (the model's view); on a gold row
    (corrupted→clean) it is the true damage, so the two distributions can be compared.
    """
    if not damaged:
        return 0.0
    return Levenshtein.distance(damaged, repaired) / len(damaged)


def char_class(char: str) -> str:
    """One of CHAR_CLASSES for a single character (Unicode categories, any script)."""
    if char.isspace():
        return "spaces"
    category = unicodedata.category(char)
    if category[0] == "L":
        return "letters"
    if category[0] == "N":
        return "digits"
    if category[0] in "PS":  # symbols such as $ + | count as punctuation for drift purposes
        return "punctuation"
    return "other"


def char_class_shares(text: str) -> dict[str, float]:
    """The share of each character class in `text` (all zeros for an empty text)."""
    counts = dict.fromkeys(CHAR_CLASSES, 0)
    for char in text:
        counts[char_class(char)] += 1
    total = len(text) or 1
    return {name: counts[name] / total for name in CHAR_CLASSES}
