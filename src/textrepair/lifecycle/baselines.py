"""Baselines the model must beat: identity (do nothing) and SymSpell spelling correction.

SymSpell's `lookup_compound` lowercases its input and drops punctuation, which would make it look
worse than it is. `SymSpellBaseline` therefore corrects only the words and puts everything else
back:

1. Tokenize into letter runs (words) and the runs between them (separators: spaces, punctuation,
   digits, and the tail of a contraction such as ``'s`` in ``Lord's``, so the dictionary never sees
   a lone ``s``).
2. Correct the lowercased word sequence with one `lookup_compound` call, so the bigram dictionary
   sees the context and deletions of spaces (``godcreated``) or inserted noise inside a word
   (``wo%rld``) can be split or merged.
3. A small dynamic program aligns input and output words in 1:1, 1:2 and 2:1 groups at the least
   edit cost (equal word counts are not enough: a split and a merge in one text cancel out).
   A merge drops the separators inside it; a split joins its words with a space. Per-word
   `lookup` was the alternative, but it cannot undo deleted spaces or noise inside a word.
4. Each output word takes its input word's casing pattern (all caps, title, lower), and an output
   word that only differs in case keeps the original spelling.

The dictionaries are symspellpy's own bundled files (no network), loaded once per process.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

UNIGRAM_FILE = "frequency_dictionary_en_82_765.txt"
BIGRAM_FILE = "frequency_bigramdictionary_en_243_342.txt"

# A letter run, unless it directly follows "letter + apostrophe" (the "s" of "Lord's", the "t" of
# "don't"): those tails stay with the separators and are never corrected on their own.
_WORD = re.compile(r"(?<![^\W\d_]['’])[^\W\d_]+")
_MERGE_PENALTY = 0.5  # prefer 1:1 groups when a split or merge would cost the same
_BAND = 10  # extra diagonal slack for the alignment beyond the word-count difference


def identity(texts: Sequence[str]) -> list[str]:
    """The do-nothing baseline: every text comes back unchanged."""
    return list(texts)


def bundled_dictionaries() -> tuple[Path, Path]:
    """Paths of the unigram and bigram frequency dictionaries shipped inside symspellpy."""
    root = importlib.resources.files("symspellpy")
    return Path(str(root / UNIGRAM_FILE)), Path(str(root / BIGRAM_FILE))


class SymSpellBaseline:
    """SymSpell `lookup_compound` with casing and punctuation transferred back.

    Call it with a list of texts; the dictionary loads on first use and is shared by every
    instance with the same settings in this process.
    """

    def __init__(
        self,
        max_edit_distance: int = 2,
        dictionary: Path | None = None,
        bigram_dictionary: Path | None = None,
    ) -> None:
        default_unigram, default_bigram = bundled_dictionaries()
        self.max_edit_distance = max_edit_distance
        self.dictionary = dictionary or default_unigram
        # An explicit unigram file without a bigram file means "no bigrams", not the bundled ones.
        self.bigram_dictionary = bigram_dictionary or (None if dictionary else default_bigram)

    def __call__(self, texts: Sequence[str]) -> list[str]:
        return [self.correct(text) for text in texts]

    def correct(self, text: str) -> str:
        """Correct one text, keeping its casing, punctuation, digits and whitespace."""
        words, separators = split_words(text)
        if not words:
            return text
        symspell = _load_symspell(
            self.max_edit_distance,
            str(self.dictionary),
            str(self.bigram_dictionary) if self.bigram_dictionary else None,
        )
        phrase = " ".join(word.lower() for word in words)
        suggestions = symspell.lookup_compound(phrase, self.max_edit_distance)
        corrected = suggestions[0].term.split() if suggestions else []
        return _reassemble(words, separators, corrected)


def split_words(text: str) -> tuple[list[str], list[str]]:
    """Words and separators: ``text == s[0] + w[0] + s[1] + ... + w[n-1] + s[n]``."""
    words: list[str] = []
    separators: list[str] = []
    cursor = 0
    for match in _WORD.finditer(text):
        separators.append(text[cursor : match.start()])
        words.append(match.group())
        cursor = match.end()
    separators.append(text[cursor:])
    return words, separators


def transfer_case(pattern: str, word: str) -> str:
    """`word` (lowercase) written with the casing pattern of `pattern`."""
    if word.lower() == pattern.lower():
        return pattern  # same word: keep the original spelling exactly, mixed case included
    if len(pattern) > 1 and pattern.isupper():
        return word.upper()
    if pattern[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def align_groups(source: Sequence[str], target: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """Align two word lists in groups ``(i0, i1, j0, j1)``: 1:1, 1:2, 2:1, or 1:0 / 0:1 leftovers.

    `lookup_compound` only keeps, corrects, splits one word in two or merges two words into one,
    so these moves cover its output; the cheapest path by edit distance of the joined groups wins.
    """
    n, m = len(source), len(target)
    band = abs(n - m) + _BAND
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(max(0, i - band), min(m, i + band) + 1):
            if cost[i][j] == inf:
                continue
            for a, b in ((1, 1), (1, 2), (2, 1), (1, 0), (0, 1)):
                if i + a > n or j + b > m:
                    continue
                step = cost[i][j] + _group_cost(source[i : i + a], target[j : j + b])
                if step < cost[i + a][j + b]:
                    cost[i + a][j + b] = step
                    back[i + a][j + b] = (a, b)
    groups = []
    i, j = n, m
    while i or j:
        move = back[i][j]
        assert move is not None  # (n, m) is always reachable through 1:0 / 0:1 moves
        a, b = move
        groups.append((i - a, i, j - b, j))
        i, j = i - a, j - b
    return groups[::-1]


def _group_cost(source: Sequence[str], target: Sequence[str]) -> float:
    if not target:
        return len(source[0]) + 1.0  # a dropped word: never cheaper than correcting it
    if not source:
        return len(target[0]) + 1.0
    penalty = 0.0 if len(source) == len(target) == 1 else _MERGE_PENALTY
    return Levenshtein.distance("".join(source).lower(), "".join(target)) + penalty


def _reassemble(words: list[str], separators: list[str], corrected: list[str]) -> str:
    # Align even when the counts agree: a split and a merge in one text cancel out in the count.
    groups = align_groups(words, corrected)
    pieces = [separators[0]]
    for i0, i1, j0, j1 in groups:
        if i0 == i1:
            continue  # an extra output word with no source: nothing to attach it to
        # A word with no output is kept as it was.
        pieces.append(words[i0] if j0 == j1 else _cased_group(words[i0], corrected[j0:j1]))
        pieces.append(separators[i1])  # a merge drops the separators inside the group
    return "".join(pieces)


def _cased_group(pattern: str, outputs: Sequence[str]) -> str:
    first = transfer_case(pattern, outputs[0])
    rest_upper = len(pattern) > 1 and pattern.isupper()
    rest = [word.upper() if rest_upper else word for word in outputs[1:]]
    return " ".join([first, *rest])


@functools.cache
def _load_symspell(max_edit_distance: int, dictionary: str, bigram: str | None) -> Any:
    """Build the SymSpell index once per process (it takes seconds for the bundled dictionary)."""
    from symspellpy import SymSpell

    symspell = SymSpell(max_dictionary_edit_distance=max_edit_distance, prefix_length=7)
    if not symspell.load_dictionary(dictionary, term_index=0, count_index=1):
        raise FileNotFoundError(f"SymSpell dictionary not found or empty: {dictionary}")
    if bigram and not symspell.load_bigram_dictionary(bigram, term_index=0, count_index=2):
        raise FileNotFoundError(f"SymSpell bigram dictionary not found or empty: {bigram}")
    return symspell
