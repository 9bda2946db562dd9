"""Baselines: identity, and SymSpell with casing and punctuation put back."""

from __future__ import annotations

import pytest

from textrepair.lifecycle.baselines import (
    SymSpellBaseline,
    align_groups,
    bundled_dictionaries,
    identity,
    split_words,
    transfer_case,
)
from textrepair.lifecycle.evaluation import cer

CLEAN_ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "In the beginning God created the heaven and the earth.",
    "Please send the report to the office before Friday, if you can.",
    "She said that the weather would be fine tomorrow morning.",
    "We walked along the river until the sun went down behind the hills.",
]


@pytest.fixture(scope="module")
def symspell() -> SymSpellBaseline:
    """The real bundled dictionary: loaded once for the module (it takes a few seconds)."""
    baseline = SymSpellBaseline()
    baseline(["warm up"])
    return baseline


@pytest.fixture
def tiny(tmp_path) -> SymSpellBaseline:
    """A hermetic three-word dictionary: fast, and its answers are easy to predict."""
    path = tmp_path / "words.txt"
    path.write_text("hello 1000\nworld 800\nthe 5000\n")
    return SymSpellBaseline(dictionary=path)


def test_identity_returns_the_input():
    texts = ["a", "", "Hello, Wrold!"]
    assert identity(texts) == texts
    assert identity(texts) is not texts


def test_split_words_round_trips_and_keeps_contraction_tails_out():
    text = "  The LORD's house, don't 1234 wo%rld! "
    words, separators = split_words(text)
    assert words == ["The", "LORD", "house", "don", "wo", "rld"]
    assert len(separators) == len(words) + 1
    rebuilt = separators[0] + "".join(w + s for w, s in zip(words, separators[1:], strict=True))
    assert rebuilt == text
    assert split_words("") == ([], [""])


@pytest.mark.parametrize(
    ("pattern", "word", "expected"),
    [
        ("Wrold", "world", "World"),
        ("WROLD", "world", "WORLD"),
        ("wrold", "world", "world"),
        ("I", "a", "A"),
        ("McDonald", "mcdonald", "McDonald"),  # same word: original spelling kept
    ],
)
def test_transfer_case(pattern, word, expected):
    assert transfer_case(pattern, word) == expected


def test_align_groups_pairs_splits_and_merges():
    source = ["wo", "rld", "godcreated", "the"]
    target = ["world", "god", "created", "the"]
    assert align_groups(source, target) == [(0, 2, 0, 1), (2, 3, 1, 3), (3, 4, 3, 4)]
    assert align_groups(["a", "b"], ["a", "b"]) == [(0, 1, 0, 1), (1, 2, 1, 2)]


def test_tiny_dictionary_keeps_casing_and_punctuation(tiny):
    assert tiny(["Hello, Wrold!", "HELLO  WROLD?", "", "  ", "42 - hello"]) == [
        "Hello, World!",
        "HELLO  WORLD?",
        "",
        "  ",
        "42 - hello",
    ]


def test_bundled_dictionaries_ship_with_symspellpy():
    unigram, bigram = bundled_dictionaries()
    assert unigram.is_file() and bigram.is_file()


def test_symspell_restores_casing_and_punctuation(symspell):
    assert symspell(["Hello, Wrold!"]) == ["Hello, World!"]
    assert symspell.correct("HELLO WROLD") == "HELLO WORLD"
    assert symspell.correct("Wrold 1234, wrold!") == "World 1234, world!"


def test_symspell_splits_and_merges_words(symspell):
    repaired = symspell.correct("In the begining Godcreated the heaven and the eatrh.")
    assert repaired == "In the beginning God created the heaven and the earth."
    assert symspell.correct("the wo rld") == "the world"


def test_symspell_leaves_clean_text_mostly_unchanged(symspell):
    repaired = symspell(CLEAN_ENGLISH)
    pairs = zip(CLEAN_ENGLISH, repaired, strict=True)
    changed = sum(cer(clean, out) * len(clean) for clean, out in pairs)
    assert changed / sum(map(len, CLEAN_ENGLISH)) < 0.02
    assert symspell.correct("The LORD's house; don't panic.") == "The LORD's house; don't panic."


@pytest.mark.parametrize("text", ["", "   ", "1234 5678", "!!!", "\n\t"])
def test_symspell_passes_through_text_without_words(symspell, text):
    assert symspell.correct(text) == text
