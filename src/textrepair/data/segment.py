"""Text cleanup and segmentation into training windows (pure Python, used inside Spark).

A window is one line of text at most `max_bytes` UTF-8 bytes long. Paragraphs (blank-line
separated) never share a window; within a paragraph, hard-wrapped lines are joined, the text is cut
into sentences, and sentences are packed greedily. A sentence longer than a window is cut at
spaces, and a word longer than a window at character boundaries, so no character is ever lost.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
# Heading underlines and rules (****, ====, ----) carry no text to repair.
_RULE_LINE = re.compile(r"^([^\w\s])\1{2,}$")
# A sentence ends at . ! ? or ; followed by space, optionally after a closing quote or bracket.
SENTENCE_END = re.compile(r"(?:(?<=[.!?;])|(?<=[.!?;][\"')\]]))\s+")
CLAUSE_END = re.compile(r"(?<=[,:])\s+")


def normalise(text: str, form: str = "NFC") -> str:
    """Unicode normal form, unified newlines, collapsed horizontal whitespace, trimmed lines."""
    text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Unicode line/paragraph separators and form feeds become newlines; other spaces one space.
    text = text.translate({0x2028: "\n", 0x2029: "\n\n", 0x0C: "\n", 0x0B: "\n", 0x85: "\n"})
    text = _HORIZONTAL_SPACE.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    lines = ["" if _RULE_LINE.match(line) else line for line in lines]
    return "\n".join(lines).strip()


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs with their wrapped lines joined by single spaces."""
    return [" ".join(p.split()) for p in _BLANK_LINES.split(text) if p.strip()]


def sentences(paragraph: str) -> list[str]:
    return [s for s in SENTENCE_END.split(paragraph) if s]


def windows(text: str, max_bytes: int) -> list[str]:
    """Cut normalised text into windows of at most `max_bytes` UTF-8 bytes."""
    out: list[str] = []
    for paragraph in paragraphs(text):
        out.extend(_pack(_pieces(paragraph, max_bytes), max_bytes))
    return out


def _pieces(paragraph: str, max_bytes: int) -> Iterator[str]:
    """Sentences, each cut further (at clauses, spaces, then characters) until it fits."""
    for sentence in sentences(paragraph):
        if _size(sentence) <= max_bytes:
            yield sentence
            continue
        for clause_run in _pack(CLAUSE_END.split(sentence), max_bytes):
            if _size(clause_run) <= max_bytes:
                yield clause_run
                continue
            for word_run in _pack(clause_run.split(" "), max_bytes):
                if _size(word_run) <= max_bytes:
                    yield word_run
                else:
                    yield from _hard_split(word_run, max_bytes)


def _pack(pieces: Iterator[str] | list[str], max_bytes: int) -> list[str]:
    """Greedily join pieces with single spaces while the result fits."""
    out: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if current and _size(candidate) > max_bytes:
            out.append(current)
            current = piece
        else:
            current = candidate
    if current:
        out.append(current)
    return out


def _hard_split(word: str, max_bytes: int) -> Iterator[str]:
    chunk, size = [], 0
    for char in word:
        width = _size(char)
        if size + width > max_bytes and chunk:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        yield "".join(chunk)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def letter_ratio(text: str) -> float:
    """Share of non-space characters that are letters (any script)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    return sum(c.isalpha() for c in visible) / len(visible)


def longest_line_bytes(text: str) -> int:
    return max((_size(line) for line in text.split("\n")), default=0)


def has_control_chars(text: str) -> bool:
    """True when text holds control/format characters other than newline and tab."""
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)
