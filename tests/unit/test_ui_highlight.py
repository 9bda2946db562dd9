"""The app's colour-coded spans: mutation records and repair edits, typed and escaped."""

from __future__ import annotations

import pytest

from textrepair.config import MutationSpec
from textrepair.data.mutations import Mutation, Mutator, apply, row_rng
from textrepair.model.repairer import compute_edits
from textrepair.ui.backend import corrupt, custom_profile
from textrepair.ui.highlight import (
    classify_edit,
    edit_spans,
    merge_close,
    mutation_spans,
    render,
)

CLEAN = "In the beginning God created the heaven and the earth."
EVENTS = [
    Mutation("deletion", CLEAN.index("the "), 4, "the ", ""),
    Mutation("substitution", CLEAN.index("nn"), 2, "nn", "xy"),
    Mutation("insertion", CLEAN.index(" God"), 0, "", "#$"),
    Mutation("duplication", CLEAN.index("God"), 3, "God", "GodGod"),
    Mutation("reversal", CLEAN.index("heaven"), 6, "heaven", "nevaeh"),
]


def test_mutation_spans_point_at_the_damage_in_both_texts():
    corrupted = apply(CLEAN, EVENTS)
    spans = mutation_spans(EVENTS, corrupted=True)
    assert [corrupted[s.start : s.end] for s in spans] == [e.replacement for e in EVENTS]
    assert [s.kind for s in spans] == [e.type for e in EVENTS]
    originals = mutation_spans(EVENTS, corrupted=False)
    assert [CLEAN[s.start : s.end] for s in originals] == [e.original for e in EVENTS]


@pytest.mark.parametrize(
    ("damaged", "kind"),
    [
        ("In th beginning", "deletion"),  # the repair inserts what was deleted
        ("In thexy beginning", "insertion"),
        ("In the begbeginning", "duplication"),
        ("In the bgeinning", "reversal"),
        ("In tqe beginning", "substitution"),
    ],
)
def test_each_repair_edit_is_labelled_with_the_mutation_it_undoes(damaged, kind):
    (edit,) = merge_close(damaged, compute_edits(damaged, "In the beginning"))
    assert classify_edit(damaged, edit) == kind


def test_edit_spans_point_at_the_repaired_text():
    damaged, repaired = "Teh quick brwn fox", "The quick brown fox"
    spans = edit_spans(damaged, compute_edits(damaged, repaired))
    assert [repaired[s.start : s.end] for s in spans] == ["he", "o"]
    assert [s.kind for s in spans] == ["reversal", "deletion"]


def test_render_escapes_text_and_marks_removed_spans():
    text = "a <b> & c"
    page = render(text, [mutation_spans([Mutation("deletion", 2, 0, "x", "")], corrupted=True)[0]])
    assert "&lt;b&gt; &amp; c" in page and "<b>" not in page
    assert 'class="tr-deletion tr-mark"' in page and "&#x27;x&#x27;" in page


def test_custom_profile_and_seeded_corruption():
    base = {"deletion": MutationSpec(rate=1, mean_length=3, max_length=5)}
    profile = custom_profile({"deletion": 8.0, "reversal": 2.0, "insertion": 0.0}, base)
    assert {k.value: v.rate for k, v in profile.items()} == {"deletion": 8.0, "reversal": 2.0}
    assert profile["deletion"].mean_length == 3  # span lengths come from the base profile
    first, events = corrupt(CLEAN, profile, seed=5)
    assert (first, events) == corrupt(CLEAN, profile, seed=5)
    assert (first, events) == Mutator(profile).mutate(CLEAN, row_rng(5, "ui"))
    assert corrupt(CLEAN, {}, seed=5) == (CLEAN, [])
