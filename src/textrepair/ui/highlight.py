"""Colour-coded spans for the app: what the mutations did, and what the repair undid.

One colour per mutation type everywhere. In the original and corrupted texts the spans come from
the mutation records; in a repaired text they come from the repairer's edits, each labelled with
the mutation type it undoes (`classify_edit`): an inserted span restores a *deletion*, a removed
span undoes an *insertion* (or a *duplication* when it repeats its neighbour), a span replaced by
its mirror image undoes a *reversal*, any other replacement a *substitution*. A span that is gone
from the text shown is a small marker whose tooltip says what was removed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textrepair.config import MutationType
from textrepair.model.repairer import Edit

COLOURS = {
    MutationType.deletion: "#f4a3a3",
    MutationType.substitution: "#f7d774",
    MutationType.insertion: "#9fd89f",
    MutationType.duplication: "#9cc3f5",
    MutationType.reversal: "#d5a6f0",
}
CSS = (
    "<style>.tr-text{white-space:pre-wrap;font-family:monospace;line-height:1.7;"
    "border:1px solid #ddd;border-radius:4px;padding:.5em}"
    ".tr-mark{font-weight:bold;padding:0 1px}"
    + "".join(f".tr-{kind.value}{{background:{colour}}}" for kind, colour in COLOURS.items())
    + "</style>"
)
_MARK = "‸"  # stands for a span that is not in the text shown (deleted from it)


@dataclass(frozen=True)
class Span:
    """[start, end) of the text shown, marked as `kind`; start == end is a removal marker."""

    start: int
    end: int
    kind: str
    note: str


def mutation_spans(events: Sequence[Any], *, corrupted: bool) -> list[Span]:
    """Spans of the mutation records in the clean text, or in the corrupted text."""
    spans, shift = [], 0
    for e in events:
        if corrupted:
            start, size = e.start + shift, len(e.replacement)
            shift += len(e.replacement) - e.length
        else:
            start, size = e.start, e.length
        spans.append(Span(start, start + size, e.type, _event_note(e)))
    return spans


def _event_note(event: Any) -> str:
    return f"{event.type}: {event.original!r} → {event.replacement!r}"


def classify_edit(source: str, edit: Any) -> str:
    """The mutation type a repair edit (op, start, end, replacement on `source`) undoes."""
    removed = source[edit.start : edit.end]
    if edit.op == "insert":
        return MutationType.deletion.value
    if edit.op == "delete":
        size = len(removed)
        repeats = source[edit.start - size : edit.start] == removed or (
            source[edit.end : edit.end + size] == removed
        )
        return (MutationType.duplication if repeats else MutationType.insertion).value
    if len(removed) > 1 and edit.replacement == removed[::-1]:
        return MutationType.reversal.value
    return MutationType.substitution.value


def merge_close(source: str, edits: Sequence[Any], gap: int = 2) -> list[Edit]:
    """Edits at most `gap` characters apart joined into one (the characters between included).

    Levenshtein spells one undone reversal as separate insertions and deletions ("Teh" → "The"
    is insert "h", keep "e", delete "h"); joined, it reads as the one change it is. Mutations
    never touch, so little else gets joined.
    """
    merged: list[Edit] = []
    for edit in edits:
        if merged and edit.start - merged[-1].end <= gap:
            last = merged.pop()
            replacement = last.replacement + source[last.end : edit.start] + edit.replacement
            edit = Edit("replace", last.start, edit.end, replacement)
        merged.append(Edit(edit.op, edit.start, edit.end, edit.replacement))
    return merged


def edit_spans(source: str, edits: Sequence[Any]) -> list[Span]:
    """Spans of the repaired text (edits in `source` coordinates, sorted; close ones joined)."""
    spans, shift = [], 0
    for edit in merge_close(source, edits):
        start = edit.start + shift
        removed = source[edit.start : edit.end]
        note = f"repair: {removed!r} → {edit.replacement!r}"
        spans.append(Span(start, start + len(edit.replacement), classify_edit(source, edit), note))
        shift += len(edit.replacement) - (edit.end - edit.start)
    return spans


def render(text: str, spans: Sequence[Span]) -> str:
    """`text` as escaped HTML with each span wrapped in its type's colour and a tooltip."""
    pieces, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.start < cursor:  # overlapping spans never come from one source: keep the first
            continue
        pieces.append(html.escape(text[cursor : span.start]))
        body = html.escape(text[span.start : span.end]) or _MARK
        mark = " tr-mark" if span.start == span.end else ""
        pieces.append(
            f'<span class="tr-{span.kind}{mark}" title="{html.escape(span.note)}">{body}</span>'
        )
        cursor = span.end
    pieces.append(html.escape(text[cursor:]))
    return f'<div class="tr-text">{"".join(pieces)}</div>'


def legend() -> str:
    """One coloured chip per mutation type."""
    chips = " ".join(
        f'<span class="tr-{kind.value}" style="padding:0 .4em">{kind.value}</span>'
        for kind in COLOURS
    )
    return f"<div>{chips} &nbsp; {_MARK} marks removed text (hover for details)</div>"
