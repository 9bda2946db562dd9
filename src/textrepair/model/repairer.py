"""`Repairer`: the only code that turns damaged text into repaired text.

    text ─▶ split_windows ─▶ windows (≤ max_window_bytes) + separators passed through verbatim
         ─▶ batches sorted by length ─▶ decode (greedy / copy-aware / beam) ─▶ guard
         ─▶ reassemble in input order ─▶ RepairResult(text, edits, changed)

Windows never contain a line break and never start or end with whitespace (that is what the model
was trained on); the whitespace between them is copied, so joining windows and separators gives
the input back exactly. A generation that looks degenerate (no end marker within the budget, empty
for non-empty input, far longer than the input, invalid UTF-8) is replaced by its input window and
counted in `RepairResult.fallbacks`. Of a plausible generation, only local changes are kept: a
change longer than `guard_span_chars` (after joining changes `guard_join_chars` or fewer apart) is
undone, because damage comes in short spans and the model's long rewrites are mostly wrong.

A model directory may hold a second model (a hybrid: `families.second_opinion_dir`):
its Repairer reads the first model's output and keeps its own local changes (its own guard).
With a gate (`families.second_opinion_gate`), a window that the first (edit) model tags as clean
with at least that confidence skips the second model: clean text costs one encoder pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rapidfuzz.distance import Levenshtein

from textrepair.data.segment import CLAUSE_END, SENTENCE_END
from textrepair.model.constants import PROMPT
from textrepair.model.decoding import copy_greedy
from textrepair.model.families import (
    DEFAULT_WINDOW_BYTES,
    EOS_ID,
    PAD_ID,
    decode_bytes,
    encode_bytes,
    encode_prompt,
    load_model,
    read_manifest,
    second_opinion_dir,
    second_opinion_gate,
    utf8,
    window_bytes,
)

_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A line's content: non-space runs joined by horizontal whitespace.
_LINE = re.compile(rf"\S+(?:[^\S{_LINE_BREAKS}]+\S+)*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Edit:
    """Input span [start, end) replaced by `replacement`; op is replace, delete or insert."""

    op: str
    start: int
    end: int
    replacement: str


@dataclass(frozen=True, slots=True)
class RepairResult:
    text: str
    edits: list[Edit] = field(default_factory=list)
    changed: bool = False
    fallbacks: int = 0  # windows whose generation was degenerate and kept as they were

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------ windowing
def split_windows(text: str, max_bytes: int = DEFAULT_WINDOW_BYTES) -> list[tuple[str, bool]]:
    """Cut `text` into (piece, is_window) pairs whose concatenation is exactly `text`.

    Windows are at most `max_bytes` UTF-8 bytes, hold no line break and no outer whitespace. A long
    line is cut at the last sentence end, else clause end, else space that keeps the window at
    least half full; a single word longer than a window is cut between characters.
    """
    if max_bytes < 8:
        raise ValueError("max_bytes must be at least 8 (one UTF-8 character takes up to 4)")
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for match in _LINE.finditer(text):
        if match.start() > cursor:
            pieces.append((text[cursor : match.start()], False))
        pieces.extend(_cut_line(match.group(), max_bytes))
        cursor = match.end()
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces


def _cut_line(line: str, max_bytes: int) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    start = 0  # an index, not slicing the rest off: a megabyte-long line stays linear
    while True:
        head = line[start : start + max_bytes + 1]  # more than max_bytes bytes if the line goes on
        if start + len(head) == len(line) and len(utf8(head)) <= max_bytes:
            pieces.append((head, True))
            return pieces
        fit = _chars_within(head, max_bytes)
        cut = _best_cut(head[: fit + 1], fit, max_bytes)  # a space just past the limit counts
        if cut is None:  # one word longer than a window: cut between characters
            pieces.append((head[:fit], True))
            start += fit
            continue
        space_end = _SPACE.match(line, start + cut).end()
        pieces += [(head[:cut], True), (line[start + cut : space_end], False)]
        start = space_end


def _best_cut(head: str, fit: int, max_bytes: int) -> int | None:
    """Where to end a window in `head`: a sentence end, else a clause end (either only if the
    window stays at least half full), else the last space; None if there is no space at all."""
    for pattern in (SENTENCE_END, CLAUSE_END, _SPACE):
        ends = [m.start() for m in pattern.finditer(head) if 0 < m.start() <= fit]
        if ends and (pattern is _SPACE or len(utf8(head[: ends[-1]])) >= max_bytes // 2):
            return ends[-1]
    return None


def _chars_within(text: str, max_bytes: int) -> int:
    """How many leading characters of `text` fit in `max_bytes` UTF-8 bytes."""
    data = utf8(text)
    cut = min(max_bytes, len(data))
    while cut < len(data) and data[cut] & 0xC0 == 0x80:  # back off to a character boundary
        cut -= 1
    return len(data[:cut].decode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------------------- edits
def compute_edits(source: str, target: str) -> list[Edit]:
    """Changed spans of `source` (input coordinates), adjacent Levenshtein operations merged."""
    edits: list[Edit] = []
    for op in Levenshtein.opcodes(source, target):
        if op.tag == "equal":
            continue
        replacement = target[op.dest_start : op.dest_end]
        if edits and edits[-1].end == op.src_start:
            last = edits.pop()
            start, replacement = last.start, last.replacement + replacement
        else:
            start = op.src_start
        edits.append(Edit(_op(start, op.src_end, replacement), start, op.src_end, replacement))
    return edits


def _op(start: int, end: int, replacement: str) -> str:
    if start == end:
        return "insert"
    return "replace" if replacement else "delete"


def apply_edits(source: str, edits: list[Edit]) -> str:
    """Rebuild the output from the input and its edits (edits sorted, non-overlapping)."""
    pieces, cursor = [], 0
    for edit in edits:
        pieces += [source[cursor : edit.start], edit.replacement]
        cursor = edit.end
    return "".join([*pieces, source[cursor:]])


# ------------------------------------------------------------------------------------- repairer
class Repairer:
    """Repairs texts of any length with a model of either family (see `families`)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        family: str,
        *,
        max_window_bytes: int = DEFAULT_WINDOW_BYTES,
        batch_size: int = 16,
        num_beams: int = 1,
        copy_aware: bool = True,
        max_new_tokens_ratio: float = 1.5,
        draft_tokens: int = 16,
        prompt: str = PROMPT,
        guard_span_chars: int = 5,
        guard_join_chars: int = 2,
        edit_decoding: Any = None,
        second_opinion: Repairer | None = None,
        second_opinion_gate: float | None = None,
    ) -> None:
        if family not in ("byt5", "causal_lora", "edit"):
            raise ValueError(f"unknown model family {family!r}")
        self.model, self.tokenizer, self.family = model, tokenizer, family
        self.max_window_bytes = max_window_bytes
        self.batch_size = batch_size
        self.num_beams = num_beams
        self.copy_aware = copy_aware
        self.max_new_tokens_ratio = max_new_tokens_ratio
        self.draft_tokens = draft_tokens
        self.prompt = prompt
        self.guard_span_chars, self.guard_join_chars = guard_span_chars, guard_join_chars
        self.second_opinion = second_opinion
        if second_opinion_gate is not None and family != "edit":
            raise ValueError("a second-opinion gate needs an edit model first (its tag confidence)")
        self.second_opinion_gate = second_opinion_gate
        if family == "causal_lora":
            tokenizer.padding_side = "left"  # generation continues from the right edge
        if family == "edit":
            from textrepair.model.edit import EditDecoder, EditDecoding

            self._edit_decoder = EditDecoder(model, tokenizer, edit_decoding or EditDecoding())
            # The edit model's changes are local by construction (one tag per character): the
            # guard against long generative rewrites would only undo real long duplications.
            self.guard_span_chars = 0
        self.device = getattr(model, "device", torch.device("cpu"))
        # Counters: windows decoded, degenerate ones replaced, long changes undone, tokens
        # generated, windows a hybrid's gate kept from its second model; copy-aware byte-T5 also
        # counts decoder passes and drafted/accepted tokens.
        self.stats = {
            "windows": 0,
            "fallbacks": 0,
            "undone_changes": 0,
            "generated_tokens": 0,
            "gated_windows": 0,
        }

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> Repairer:
        """A Repairer over a model directory written by `families.save_model`; its windows are as
        long as the manifest says the training windows were."""
        model, tokenizer, config = load_model(path)
        from textrepair.model.edit import EditDecoding

        manifest = read_manifest(path)
        defaults = dict(
            max_window_bytes=window_bytes(manifest),
            edit_decoding=EditDecoding.from_settings(config.edit),
            max_new_tokens_ratio=config.max_new_tokens_ratio,
            draft_tokens=config.draft_tokens,
            prompt=config.prompt,
            guard_span_chars=config.guard_span_chars,
            guard_join_chars=config.guard_join_chars,
        )
        second = second_opinion_dir(path, manifest)
        if second is not None and "second_opinion" not in options:
            defaults["second_opinion"] = cls.load(second)
            defaults["second_opinion_gate"] = second_opinion_gate(path, manifest)
        return cls(model, tokenizer, config.family, **{**defaults, **options})

    def repair(self, texts: list[str]) -> list[RepairResult]:
        """Repair each text; results come back in input order."""
        plans = [split_windows(text, self.max_window_bytes) for text in texts]
        unique = list(dict.fromkeys(p for plan in plans for p, is_window in plan if is_window))
        repaired = dict(zip(unique, self._repair_windows(unique), strict=True))
        results = []
        for text, plan in zip(texts, plans, strict=True):
            parts = [repaired[p] if is_window else (p, False) for p, is_window in plan]
            out = "".join(part for part, _ in parts)
            fallbacks = sum(fell_back for _, fell_back in parts)
            results.append(RepairResult(out, compute_edits(text, out), out != text, fallbacks))
        return results

    def _repair_windows(self, windows: list[str]) -> list[tuple[str, bool]]:
        # Lone surrogates are not text any tokenizer accepts: such windows pass through as they are.
        out: list[tuple[str, bool]] = [(w, False) for w in windows]
        clean_confidence = [0.0] * len(windows)
        todo = [i for i, w in enumerate(windows) if _is_unicode(w)]
        # Longest first, similar lengths together: less padding, and the batch budget fits all.
        order = sorted(todo, key=lambda i: len(utf8(windows[i])), reverse=True)
        for first in range(0, len(order), self.batch_size):
            chunk = order[first : first + self.batch_size]
            generated, confidence = self._generate([windows[i] for i in chunk])
            for i, text, sure in zip(chunk, generated, confidence, strict=True):
                ok = text is not None and _plausible(windows[i], text)
                if ok and self.guard_span_chars:
                    text = self._keep_local_changes(windows[i], text)
                out[i] = (text, False) if ok else (windows[i], True)
                clean_confidence[i] = sure
                self.stats["fallbacks"] += not ok
        self.stats["windows"] += len(windows)
        if self.second_opinion is None:
            return out
        return self._ask_second_opinion(self.second_opinion, out, clean_confidence)

    def _ask_second_opinion(
        self, second: Repairer, out: list[tuple[str, bool]], clean_confidence: list[float]
    ) -> list[tuple[str, bool]]:
        gate = self.second_opinion_gate
        asked = [i for i, sure in enumerate(clean_confidence) if gate is None or sure < gate]
        self.stats["gated_windows"] += len(out) - len(asked)
        checked = second.repair([out[i][0] for i in asked])
        for i, result in zip(asked, checked, strict=True):
            out[i] = (result.text, out[i][1] or bool(result.fallbacks))
        return out

    @torch.no_grad()
    def _generate(self, windows: list[str]) -> tuple[list[str | None], list[float]]:
        """Outputs, and how sure the model is that each window was clean (0.0: no measure)."""
        if self.family == "edit":
            texts, confidence = self._edit_decoder.repair_scored(windows)
            return list(texts), confidence
        unknown = [0.0] * len(windows)
        if self.family == "byt5":
            return self._generate_byt5(windows), unknown
        return self._generate_causal(windows), unknown

    def _generate_byt5(self, windows: list[str]) -> list[str | None]:
        ids = [encode_bytes(w)["input_ids"] for w in windows]
        input_ids, mask = _pad(ids, PAD_ID, left=False, device=self.device)
        budget = self._budget(max(map(len, ids)))
        if self.copy_aware and self.num_beams == 1:
            rows, counts = copy_greedy(
                self.model, input_ids, mask, budget, draft_tokens=self.draft_tokens
            )
            for key, value in counts.items():
                self.stats[key] = self.stats.get(key, 0) + value
        else:
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=budget,
                num_beams=self.num_beams,
                do_sample=False,
            )
            rows = [_until(row[1:].tolist(), EOS_ID) for row in output]  # drop the start token
        self.stats["generated_tokens"] += sum(len(r) for r in rows)
        return [decode_bytes(row) if row[-1:] == [EOS_ID] else None for row in rows]

    def _generate_causal(self, windows: list[str]) -> list[str | None]:
        eos = self.tokenizer.eos_token_id
        prompts = [encode_prompt(self.tokenizer, self.prompt, w)["input_ids"] for w in windows]
        budget = self._budget(
            max(map(len, prompts)) - _prompt_overhead(self.tokenizer, self.prompt)
        )
        options = dict(
            max_new_tokens=budget,
            do_sample=False,
            num_beams=self.num_beams,
            eos_token_id=eos,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        input_ids, mask = _pad(prompts, self.tokenizer.pad_token_id, left=True, device=self.device)
        if self.copy_aware and self.num_beams == 1 and len(prompts) == 1:
            # transformers' prompt-lookup decoding (drafts copied from the prompt) runs at batch
            # size 1 only. It wins for a lone window; for several, one batched greedy pass is
            # faster (benchmarks/decoding_speed.py: ~3x at 16 windows on one core).
            options["prompt_lookup_num_tokens"] = self.draft_tokens
        output = self.model.generate(input_ids=input_ids, attention_mask=mask, **options)
        rows = [_until(row, eos) for row in output[:, input_ids.shape[1] :].tolist()]
        self.stats["generated_tokens"] += sum(len(r) for r in rows)
        return [
            self.tokenizer.decode(row[:-1], skip_special_tokens=True) if row[-1:] == [eos] else None
            for row in rows
        ]

    def _keep_local_changes(self, window: str, output: str) -> str:
        kept = []
        for src_start, src_end, dest_start, dest_end in changed_spans(
            window, output, self.guard_join_chars
        ):
            if max(src_end - src_start, dest_end - dest_start) > self.guard_span_chars:
                self.stats["undone_changes"] += 1
                continue
            replacement = output[dest_start:dest_end]
            kept.append(Edit(_op(src_start, src_end, replacement), src_start, src_end, replacement))
        return apply_edits(window, kept)

    def _budget(self, input_tokens: int) -> int:
        return math.ceil(self.max_new_tokens_ratio * input_tokens) + 8


def changed_spans(source: str, target: str, join: int) -> list[tuple[int, int, int, int]]:
    """Changed spans (src_start, src_end, dest_start, dest_end) from Levenshtein opcodes, joining
    changes at most `join` unchanged characters apart on both sides."""
    spans: list[tuple[int, int, int, int]] = []
    for op in Levenshtein.opcodes(source, target):
        if op.tag == "equal":
            continue
        last = spans[-1] if spans else None
        if last and op.src_start - last[1] <= join and op.dest_start - last[3] <= join:
            spans[-1] = (last[0], op.src_end, last[2], op.dest_end)
        else:
            spans.append((op.src_start, op.src_end, op.dest_start, op.dest_end))
    return spans


def _prompt_overhead(tokenizer: Any, prompt: str) -> int:
    return len(encode_prompt(tokenizer, prompt, "")["input_ids"])


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _until(row: list[int], eos: int) -> list[int]:
    """The generated ids up to and including the first eos (padding after it dropped)."""
    return row[: row.index(eos) + 1] if eos in row else row


def _plausible(window: str, output: str) -> bool:
    """False for the degenerate generations the guard replaces by the input."""
    if window and not output:
        return False
    return len(output) <= 2 * len(window) + 8


def _pad(
    rows: list[list[int]], pad_id: int, *, left: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids, mask = [], []
    for row in rows:
        fill = [pad_id] * (width - len(row))
        ids.append(fill + row if left else row + fill)
        ones, zeros = [1] * len(row), [0] * len(fill)
        mask.append(zeros + ones if left else ones + zeros)
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)
