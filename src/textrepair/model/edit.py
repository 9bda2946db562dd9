"""The `edit` family: a character encoder that finds the damage, undoes it, and fills the gaps.

Pass 1 tags every character of a damaged window in one forward pass:

    action  keep | drop (inserted noise, the second copy of a duplication)
                 | reversed (part of a reversed run) | replaced (a substituted character)
    gap     how many characters were deleted right after this position (slot 0, BOS, is the
            gap before the first character)

Applying the tags drops, re-reverses each run, and turns replaced characters and gaps into mask
slots; pass 2 fills the masks with the character head, most confident first, over a few rounds
(FELIX / GECToR at character level). Labels come exactly from the mutation records
(`labels_from_mutations`), so training draws fresh damage on every step.

A saved model is a directory: ``model.safetensors``, ``vocab.json`` and the shared
``textrepair_model.json`` manifest (see `families`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textrepair.data.mutations import NOISE_ALPHABET, Mutation

KEEP, DROP, REVERSED, REPLACED = range(4)
ACTIONS = ("keep", "drop", "reversed", "replaced")
PAD, UNK, BOS, MASK = range(4)
SPECIALS = ("<pad>", "<unk>", "<bos>", "<mask>")
VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "model.safetensors"
# Tandem-repeat features look back this many characters: a duplication's span is at most
# `max_length` of the profiles (8 in the default one).
REPEAT_SPAN = 8

EDIT_PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(d_model=32, num_layers=1, num_heads=2, d_ff=64),
    "small": dict(d_model=256, num_layers=6, num_heads=4, d_ff=1024),
    "base": dict(d_model=384, num_layers=8, num_heads=6, d_ff=1536),
}


# ---------------------------------------------------------------------------------- vocabulary
class CharVocab:
    """Unicode code points to ids; unknown characters map to UNK (and are kept as they are)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = list(SPECIALS) + sorted(set(chars) - set(SPECIALS))
        self.ids = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharVocab:
        seen: set[str] = set(NOISE_ALPHABET)
        for text in texts:
            seen.update(text)
        return cls(seen)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(c, UNK) for c in text]

    def save(self, path: Path) -> None:
        payload = {"specials": list(SPECIALS), "chars": self.chars[len(SPECIALS) :]}
        path.write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CharVocab:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("specials") != list(SPECIALS):
            raise ValueError(f"{path}: special tokens {payload.get('specials')} are not ours")
        return cls(payload["chars"])


# -------------------------------------------------------------------------------------- labels
@dataclass(frozen=True, slots=True)
class EditLabels:
    """Exact targets for one damaged window.

    `actions[i]` tags damaged character i; `gaps[j]` is the number of characters deleted at slot
    j (0: before the first character, j > 0: after character j - 1); `fills` are the characters
    the masks of the tagged text stand for, in order.
    """

    actions: list[int]
    gaps: list[int]
    fills: str


def labels_from_mutations(corrupted: str, events: Sequence[Mutation]) -> EditLabels:
    """Per-character labels of `corrupted` from its (sorted, non-touching) mutation records."""
    actions = [KEEP] * len(corrupted)
    gaps = [0] * (len(corrupted) + 1)
    fills: list[str] = []
    shift = 0  # corrupted position minus original position
    for event in events:
        at = event.start + shift
        width = len(event.replacement)
        if event.type == "deletion":
            gaps[at] = event.length
            fills.append(event.original)
        elif event.type == "substitution":
            actions[at : at + width] = [REPLACED] * width
            fills.append(event.original)
        elif event.type == "insertion":
            actions[at : at + width] = [DROP] * width
        elif event.type == "duplication":
            actions[at + event.length : at + width] = [DROP] * event.length
        elif event.type == "reversal":
            actions[at : at + width] = [REVERSED] * width
        else:
            raise ValueError(f"unknown mutation type {event.type!r}")
        shift += width - event.length
    return EditLabels(actions, gaps, "".join(fills))


def apply_tags(text: str, actions: Sequence[int], gaps: Sequence[int]) -> list[str | None]:
    """The tagged text as characters, None for a mask slot: drop, re-reverse runs, mask."""
    out: list[str | None] = [None] * gaps[0]
    i = 0
    while i < len(text):
        if actions[i] == REVERSED:
            end = i
            while end < len(text) and actions[end] == REVERSED and not (end > i and gaps[end]):
                end += 1
            out.extend(reversed(text[i:end]))
            out.extend([None] * gaps[end])
            i = end
            continue
        if actions[i] == KEEP:
            out.append(text[i])
        elif actions[i] == REPLACED:
            out.append(None)
        out.extend([None] * gaps[i + 1])
        i += 1
    return out


def fill_masks(slots: Sequence[str | None], fills: str) -> str:
    """Put `fills` into the mask slots in order (the true fill, or a model's)."""
    chars = iter(fills)
    return "".join(c if c is not None else next(chars) for c in slots)


# ------------------------------------------------------------------------------------- network
def repeat_features(
    ids: torch.Tensor, valid: torch.Tensor, span: int = REPEAT_SPAN
) -> torch.Tensor:
    """Tandem-repeat indicators, (batch, length, 2 * span) floats.

    Feature k-1 at position j: the k characters from j repeat the k just before j (j starts a
    second copy); feature span+k-1: j lies inside such a second copy.
    """
    starts, inside = [], []
    for k in range(1, span + 1):
        same = torch.zeros_like(valid)
        same[:, k:] = (ids[:, k:] == ids[:, :-k]) & valid[:, k:] & valid[:, :-k]
        # start[j] = same[j] & ... & same[j+k-1]: a run of k matches beginning at j.
        run = same.float()
        window = F.pad(run, (0, k - 1)).unfold(1, k, 1).sum(-1)
        start = window >= k
        # inside[j] = any start in [j-k+1, j]
        covered = F.pad(start.float(), (k - 1, 0)).unfold(1, k, 1).sum(-1) > 0
        starts.append(start)
        inside.append(covered)
    return torch.stack(starts + inside, dim=-1).float()


class EditEncoder(nn.Module):
    """Character embeddings + repeat features -> local convolution -> transformer encoder."""

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int,
        num_layers: int,
        num_heads: int,
        d_ff: int,
        max_gap: int,
        max_positions: int = 512,
        conv_kernel: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.features = nn.Linear(2 * REPEAT_SPAN, d_model)
        self.positions = nn.Embedding(max_positions, d_model)
        # Local context from the first layer: learned positions alone stall at unigram loss.
        self.conv = nn.Conv1d(d_model, d_model, conv_kernel, padding=conv_kernel // 2)
        self.conv_norm = nn.LayerNorm(d_model)
        layer = nn.TransformerEncoderLayer(
            d_model,
            num_heads,
            d_ff,
            dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.action_head = nn.Linear(d_model, len(ACTIONS))
        self.gap_head = nn.Linear(d_model, max_gap + 1)
        self.char_head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Hidden states (batch, length, d_model) of BOS-prefixed, PAD-padded ids."""
        if ids.shape[1] > self.max_positions:
            raise ValueError(f"{ids.shape[1]} positions exceed the model's {self.max_positions}")
        valid = ids != PAD
        positions = torch.arange(ids.shape[1], device=ids.device)
        features = repeat_features(ids, valid).to(self.features.weight.dtype)
        x = self.embed(ids) + self.positions(positions) + self.features(features)
        x = x + F.gelu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        x = self.conv_norm(x)
        x = self.encoder(x, src_key_padding_mask=~valid)
        return self.norm(x)


# ------------------------------------------------------------------------------------ batching
def pad_rows(rows: Sequence[Sequence[int]], value: int = PAD) -> torch.Tensor:
    width = max(map(len, rows))
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def bos(ids: Sequence[int]) -> list[int]:
    return [BOS, *ids]


# ----------------------------------------------------------------------------------- inference
@dataclass(frozen=True)
class EditDecoding:
    """Inference knobs (`model.edit` settings): see `config.EditSettings`."""

    fill_rounds: int = 2
    refine_rounds: int = 0
    keep_threshold: float = 0.5
    gap_threshold: float = 0.5

    @classmethod
    def from_settings(cls, settings: Any) -> EditDecoding:
        return cls(**{f: getattr(settings, f) for f in cls.__dataclass_fields__})


@dataclass
class EditDecoder:
    """Two-pass inference over a batch of windows with an `EditEncoder` and its vocabulary."""

    model: EditEncoder
    vocab: CharVocab
    decoding: EditDecoding = EditDecoding()

    @torch.no_grad()
    def repair(self, windows: Sequence[str]) -> list[str]:
        return self.repair_scored(windows)[0]

    @torch.no_grad()
    def repair_scored(self, windows: Sequence[str]) -> tuple[list[str], list[float]]:
        """Repaired windows, and how sure the first tagging pass was that each was clean: the
        lowest P(keep) or P(no gap) of any of its slots."""
        out = list(windows)
        clean_confidence: list[float] = []
        todo = list(range(len(windows)))
        for round_index in range(1 + self.decoding.refine_rounds):
            if not todo:
                break
            slots, confidence = self.tag([out[i] for i in todo])
            repaired = self.fill(slots)
            if round_index == 0:
                clean_confidence = confidence
            changed = [i for i, text in zip(todo, repaired, strict=True) if text != out[i]]
            for i, text in zip(todo, repaired, strict=True):
                out[i] = text
            todo = changed
        return out, clean_confidence

    @torch.no_grad()
    def tag(self, windows: Sequence[str]) -> tuple[list[list[str | None]], list[float]]:
        """Pass 1: the tagged text of each window (None marks a slot to fill), and how sure it is
        that the window was clean: the lowest P(keep) or P(no gap) of any of its slots."""
        ids = pad_rows([bos(self.vocab.encode(w)) for w in windows])
        hidden = self.model(ids)
        action_probs = self.model.action_head(hidden[:, 1:]).float().softmax(-1)
        gap_probs = self.model.gap_head(hidden).float().softmax(-1)
        actions = _thresholded(action_probs, self.decoding.keep_threshold)
        gaps = _thresholded(gap_probs, self.decoding.gap_threshold)
        tagged, confidence = [], []
        for row, (window, row_actions, row_gaps) in enumerate(
            zip(windows, actions, gaps, strict=True)
        ):
            n = len(window)
            slots = apply_tags(window, row_actions[:n], row_gaps[: n + 1])
            # Damage never doubles a text: tags that would are wrong, keep the window as it is.
            limit = min(2 * n + 8, self.model.max_positions - 1)
            tagged.append(slots if len(slots) <= limit else list(window))
            sure_keep = float(action_probs[row, :n, KEEP].min()) if n else 1.0
            confidence.append(min(sure_keep, float(gap_probs[row, : n + 1, 0].min())))
        return tagged, confidence

    @torch.no_grad()
    def fill(self, slots: list[list[str | None]]) -> list[str]:
        """Pass 2: fill mask slots, the most confident first, over `fill_rounds` rounds."""
        slots = [list(s) for s in slots]
        pending = [i for i, s in enumerate(slots) if None in s]
        for round_left in range(self.decoding.fill_rounds, 0, -1):
            if not pending:
                break
            ids = pad_rows([bos(self._ids(slots[i])) for i in pending])
            logits = self.model.char_head(self.model(ids)[:, 1:]).float()
            logits[..., : len(SPECIALS)] = -math.inf  # never write a special token
            confidence, best = logits.softmax(-1).max(-1)
            for row, i in enumerate(pending):
                masks = [j for j, c in enumerate(slots[i]) if c is None]
                take = (
                    masks
                    if round_left == 1
                    else _most_confident(masks, confidence[row], math.ceil(len(masks) / round_left))
                )
                for j in take:
                    slots[i][j] = self.vocab.chars[best[row, j]]
            pending = [i for i in pending if None in slots[i]]
        return ["".join(s) for s in slots]  # type: ignore[arg-type]

    def _ids(self, slots: Sequence[str | None]) -> list[int]:
        return [MASK if c is None else self.vocab.ids.get(c, UNK) for c in slots]


def _thresholded(probabilities: torch.Tensor, threshold: float) -> list[list[int]]:
    """Class 0 (keep, or a gap of 0) unless its probability falls below `threshold`; then the
    likeliest other class. A threshold above 0.5 trades precision for recall of damage."""
    others = probabilities[..., 1:].argmax(-1) + 1
    return torch.where(probabilities[..., 0] >= threshold, 0, others).tolist()


def _most_confident(masks: list[int], confidence: torch.Tensor, count: int) -> list[int]:
    return sorted(masks, key=lambda j: -float(confidence[j]))[:count]


# ---------------------------------------------------------------------------------- save/load
def build_encoder(vocab_size: int, size: str, max_gap: int, dropout: float) -> EditEncoder:
    return EditEncoder(vocab_size, max_gap=max_gap, dropout=dropout, **EDIT_PRESETS[size])


def save_weights(model: EditEncoder, vocab: CharVocab, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS_FILE))
    (path / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; images run as another user
    vocab.save(path / VOCAB_FILE)


def load_weights(
    path: Path, size: str, max_gap: int, dropout: float = 0.0
) -> tuple[EditEncoder, CharVocab]:
    """Model (eval mode) and vocabulary of a saved edit model; ValueError/OSError if broken."""
    from safetensors.torch import load_file

    vocab = CharVocab.load(path / VOCAB_FILE)
    model = build_encoder(len(vocab), size, max_gap, dropout)
    model.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
    return model.eval(), vocab
