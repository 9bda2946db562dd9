"""Windowing, reassembly and edits: properties over arbitrary Unicode, with an identity model."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textrepair.model.families import PAD_ID
from textrepair.model.repairer import Repairer, apply_edits, compute_edits, split_windows

DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=200)
# Arbitrary Unicode plus plenty of the characters windowing cares about.
TEXT = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(" \n\r\t.!?;,:\"')\u2028\u00a0👋🏽é日"),
    ),
    max_size=900,
)


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class IdentityT5:
    """Stands in for a byte-T5 whose greedy output is its input."""

    device = torch.device("cpu")
    config = SimpleNamespace(decoder_start_token_id=PAD_ID)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, input_ids, attention_mask, **_):
        self.calls.append(input_ids.shape[0])
        start = torch.full((input_ids.shape[0], 1), PAD_ID)
        return torch.cat([start, input_ids], dim=1)


@DETERMINISTIC
@given(TEXT, st.integers(16, 80))
def test_windows_rejoin_exactly_and_respect_the_limits(text, max_bytes):
    pieces = split_windows(text, max_bytes)
    assert "".join(piece for piece, _ in pieces) == text
    for piece, is_window in pieces:
        assert piece
        if is_window:
            assert _size(piece) <= max_bytes
            assert piece == piece.strip() and "\n" not in piece and "\r" not in piece
        else:
            assert piece.isspace()


@DETERMINISTIC
@given(TEXT, st.integers(16, 80))
def test_identity_model_returns_every_text_unchanged(text, max_bytes):
    repairer = Repairer(IdentityT5(), None, "byt5", max_window_bytes=max_bytes, copy_aware=False)
    (result,) = repairer.repair([text])
    assert result.text == text
    assert result.edits == [] and not result.changed and result.fallbacks == 0


def test_identity_model_keeps_input_order_and_batches_by_length():
    model = IdentityT5()
    texts = [f"{'word ' * n}end" for n in (1, 30, 3, 12, 0, 7)] + ["", "  \n "]
    repairer = Repairer(model, None, "byt5", batch_size=2, copy_aware=False)
    assert [r.text for r in repairer.repair(texts)] == texts
    assert model.calls == [2, 2, 2]  # six distinct windows; blank texts never reach the model


def test_long_text_is_cut_at_sentence_ends_when_possible():
    text = " ".join(f"Sentence number {i} is here." for i in range(20))
    windows = [piece for piece, is_window in split_windows(text, 96) if is_window]
    assert len(windows) > 1
    assert all(w.endswith(".") for w in windows)


def test_a_word_longer_than_a_window_is_cut_between_characters():
    text = "é" * 100  # two bytes each
    windows = [piece for piece, is_window in split_windows(text, 31) if is_window]
    assert "".join(windows) == text and max(map(_size, windows)) == 30


def test_tiny_windows_are_refused():
    with pytest.raises(ValueError):
        split_windows("abc", 4)


@DETERMINISTIC
@given(st.text(max_size=60), st.text(max_size=60))
def test_edits_rebuild_the_output_from_the_input(source, target):
    edits = compute_edits(source, target)
    assert apply_edits(source, edits) == target
    for before, after in itertools.pairwise(edits):
        assert before.end < after.start  # merged: separated by at least one kept character
    for edit in edits:
        assert edit.op == (
            "insert" if edit.start == edit.end else "replace" if edit.replacement else "delete"
        )


def test_edits_are_spans_in_input_coordinates():
    edits = compute_edits("hello wrold", "hello world")
    assert apply_edits("hello wrold", edits) == "hello world"
    assert all(7 <= e.start <= e.end <= 10 for e in edits)
    assert compute_edits("same", "same") == []
