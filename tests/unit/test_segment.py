"""Cleanup and windowing: no character of a paragraph is lost, every window fits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from textrepair.data.segment import (
    has_control_chars,
    letter_ratio,
    longest_line_bytes,
    normalise,
    paragraphs,
    windows,
)


def test_normalise_unifies_whitespace_and_unicode():
    text = "  Cafe\u0301\t\tau   lait \r\n\r\n\u2028Second\u00a0line  "
    assert normalise(text) == "Café au lait\n\n\nSecond line"


def test_normalise_drops_heading_rules():
    assert normalise("Title\n*****\n\nBody.\n-----") == "Title\n\n\nBody."


def test_windows_respect_paragraphs_and_sentences():
    text = "First sentence here. Second one!\n\nNew paragraph; with a clause."
    assert windows(text, 20) == [
        "First sentence here.",
        "Second one!",
        "New paragraph;",
        "with a clause.",
    ]
    assert windows(text, 200) == [
        "First sentence here. Second one!",
        "New paragraph; with a clause.",
    ]


def test_long_sentences_split_at_clauses_then_words_then_characters():
    sentence = "alpha beta, gamma delta, epsilon zeta eta theta iota kappa lambda"
    assert windows(sentence, 24) == [
        "alpha beta, gamma delta,",
        "epsilon zeta eta theta",
        "iota kappa lambda",
    ]
    assert windows("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_multibyte_characters_never_split():
    assert windows("é" * 7, 4) == ["éé", "éé", "éé", "é"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(), st.integers(min_value=4, max_value=64))
def test_windows_fit_and_keep_every_non_space_character(text, max_bytes):
    clean = normalise(text)
    out = windows(clean, max_bytes)
    assert all(0 < len(w.encode("utf-8")) <= max_bytes for w in out)
    assert "".join("".join(out).split()) == "".join("".join(paragraphs(clean)).split())


def test_quality_helpers():
    assert letter_ratio("ab 12") == 0.5
    assert letter_ratio("   ") == 0.0
    assert longest_line_bytes("ab\né") == 2
    assert has_control_chars("a\x07b")
    assert not has_control_chars("tab\tand\nnewline")
