"""Training of the `edit` family: fresh damage on every step, exact labels, resumable.

Each step draws `batch_size` clean gold/train windows and damages them with a profile drawn from
`edit.profile_mix` (clean rows kept at `gold.clean_fraction`), all from a generator seeded by
(seed, step): a run reproduces, and `--resume` continues exactly where a checkpoint left off.
The step trains both passes at once: the tagger on the damaged windows, and the character head on
the same windows with their deleted and substituted characters masked at their true length (plus
extra random spans, so the fill head sees enough masks per step).

Validation reads gold/validation as it is: the tag losses on its records, and the CER of full
two-pass repair on a fixed sample, which picks the best checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein

from textrepair.config import ModelConfig, TrainConfig
from textrepair.data.mutations import Mutation, Mutator, damage_or_keep
from textrepair.model.edit import (
    ACTIONS,
    MASK,
    EditDecoder,
    EditDecoding,
    EditEncoder,
    apply_tags,
    bos,
    labels_from_mutations,
    pad_rows,
)
from textrepair.model.families import DEFAULT_WINDOW_BYTES
from textrepair.model.train import TrainResult

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
VALIDATION_FILE = "validation.json"  # the saved model's scores on gold/validation
CALIBRATION_FILE = "calibration.json"  # decoding settings tried on gold/validation
LENGTH_BUCKET = 16  # characters
IGNORE = -100


@dataclass
class EditBatch:
    """Tensors of one training step: pass 1 (tagging) and pass 2 (filling)."""

    tag_ids: torch.Tensor
    actions: torch.Tensor
    gaps: torch.Tensor
    fill_ids: torch.Tensor
    fill_targets: torch.Tensor


@dataclass
class EditExample:
    """One damaged window with its exact labels."""

    corrupted: str
    clean: str
    events: list[Mutation] = field(default_factory=list)


def encode_example(
    example: EditExample, encode: Callable[[str], list[int]], max_gap: int
) -> tuple[list[int], list[int], list[int], list[int | None]]:
    """(pass-1 ids, action labels, gap labels, tagged slots with the true characters)."""
    labels = labels_from_mutations(example.corrupted, example.events)
    ids = bos(encode(example.corrupted))
    actions = [IGNORE, *labels.actions]
    gaps = [min(g, max_gap) for g in labels.gaps]
    slots = apply_tags(example.corrupted, labels.actions, labels.gaps)
    # The true tagged text lines up with the clean text character for character.
    truth = encode(example.clean)
    return ids, actions, gaps, [t if s is None else None for s, t in zip(slots, truth, strict=True)]


def make_batch(
    examples: Sequence[EditExample],
    encode: Callable[[str], list[int]],
    max_gap: int,
    rng: random.Random,
    extra_mask_rate: float,
) -> EditBatch:
    tag_rows, action_rows, gap_rows, fill_rows, target_rows = [], [], [], [], []
    for example in examples:
        ids, actions, gaps, masked = encode_example(example, encode, max_gap)
        tag_rows.append(ids)
        action_rows.append(actions)
        gap_rows.append(gaps)
        clean_ids = encode(example.clean)
        masked = _extra_masks(masked, clean_ids, rng, extra_mask_rate)
        fill_rows.append(
            bos([MASK if m is not None else c for m, c in zip(masked, clean_ids, strict=True)])
        )
        target_rows.append([IGNORE] + [IGNORE if m is None else m for m in masked])
    return EditBatch(
        tag_ids=pad_rows(tag_rows),
        actions=pad_rows(action_rows, IGNORE),
        gaps=pad_rows(gap_rows, IGNORE),
        fill_ids=pad_rows(fill_rows),
        fill_targets=pad_rows(target_rows, IGNORE),
    )


def _extra_masks(
    masked: list[int | None], clean_ids: list[int], rng: random.Random, rate: float
) -> list[int | None]:
    """Also mask random spans of 1-3 characters (about `rate` of them): more fill targets."""
    out = list(masked)
    j = 0
    while j < len(out):
        if rng.random() < rate / 2:  # spans average two characters
            length = rng.randint(1, 3)
            out[j : j + length] = clean_ids[j : j + length]
            j += length + 1
        else:
            j += 1
    return out


def batch_loss(
    model: EditEncoder, batch: EditBatch, weights: Mapping[str, float], smoothing: float = 0.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the action, gap and fill cross-entropies; parts returned for logging."""
    parts = head_losses(head_logits(model, batch), batch, smoothing)
    total = sum(weights.get(name, 1.0) * value for name, value in parts.items())
    return total, {name: float(value.detach()) for name, value in parts.items()}


def head_logits(model: EditEncoder, batch: EditBatch) -> dict[str, torch.Tensor]:
    """Logits of the three heads: actions and gaps on pass 1, characters on pass 2."""
    hidden = model(batch.tag_ids)
    return {
        "action": model.action_head(hidden),
        "gap": model.gap_head(hidden),
        "fill": model.char_head(model(batch.fill_ids)),
    }


def head_losses(
    logits: Mapping[str, torch.Tensor], batch: EditBatch, smoothing: float = 0.0
) -> dict[str, torch.Tensor]:
    targets = {"action": batch.actions, "gap": batch.gaps, "fill": batch.fill_targets}
    return {name: _ce(logits[name], targets[name], smoothing) for name in targets}


def _ce(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    if not (targets != IGNORE).any():
        return logits.sum() * 0.0
    return F.cross_entropy(
        logits.float().flatten(0, 1),
        targets.flatten(),
        ignore_index=IGNORE,
        label_smoothing=smoothing,
    )


class DamageSampler:
    """Fresh damaged training windows for step N, a pure function of (seed, N)."""

    def __init__(
        self,
        clean_windows: Sequence[str],
        profiles: Mapping[str, Mutator],
        mix: Mapping[str, float],
        clean_fraction: float,
        seed: int,
    ) -> None:
        if not clean_windows:
            raise ValueError("no clean gold/train windows to train on: run `dvc repro` first")
        unknown = sorted(set(mix) - set(profiles))
        if unknown:
            raise ValueError(f"edit.profile_mix names unknown profiles: {unknown}")
        # Windows of similar length share a step: far less padding (a step costs its longest).
        buckets: dict[int, list[str]] = {}
        for window in clean_windows:
            buckets.setdefault(len(window) // LENGTH_BUCKET, []).append(window)
        self.buckets = [buckets[key] for key in sorted(buckets)]
        self.bucket_weights = [len(b) for b in self.buckets]
        self.profiles = profiles
        self.names = [n for n, w in mix.items() if w > 0]
        self.weights = [mix[n] for n in self.names]
        self.clean_fraction = clean_fraction
        self.seed = seed

    def examples(self, step: int, count: int) -> tuple[list[EditExample], random.Random]:
        rng = random.Random(f"{self.seed}:edit-step:{step}")
        bucket = rng.choices(self.buckets, weights=self.bucket_weights)[0]
        out = []
        for _ in range(count):
            clean = rng.choice(bucket)
            mutator = self.profiles[rng.choices(self.names, weights=self.weights)[0]]
            corrupted, events = damage_or_keep(clean, mutator, rng, self.clean_fraction)
            out.append(EditExample(corrupted, clean, events))
        return out, rng


def character_error_rate(predictions: Sequence[str], references: Sequence[str]) -> float:
    edits = sum(Levenshtein.distance(p, r) for p, r in zip(predictions, references, strict=True))
    return edits / max(1, sum(len(r) for r in references))


@dataclass
class TagCounts:
    """Counts behind tag precision/recall per action and gap-length accuracy."""

    actions: dict[str, dict[str, int]] = field(
        default_factory=lambda: {a: {"tp": 0, "fp": 0, "fn": 0} for a in ACTIONS}
    )
    gaps: dict[str, int] = field(
        default_factory=lambda: {"tp": 0, "fp": 0, "fn": 0, "exact_length": 0}
    )

    def add(self, logits: Mapping[str, torch.Tensor], batch: EditBatch) -> None:
        actions, truth = logits["action"].argmax(-1), batch.actions
        for index, name in enumerate(ACTIONS):
            predicted, true = (actions == index) & (truth != IGNORE), truth == index
            self._count(self.actions[name], predicted, true)
        gaps, true_gaps = logits["gap"].argmax(-1), batch.gaps
        predicted, true = (gaps > 0) & (true_gaps != IGNORE), true_gaps > 0
        self._count(self.gaps, predicted, true)
        self.gaps["exact_length"] += int((true & (gaps == true_gaps)).sum())

    @staticmethod
    def _count(counts: dict[str, int], predicted: torch.Tensor, true: torch.Tensor) -> None:
        counts["tp"] += int((predicted & true).sum())
        counts["fp"] += int((predicted & ~true).sum())
        counts["fn"] += int((~predicted & true).sum())

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, counts in [*self.actions.items(), ("gap", self.gaps)]:
            out[f"{name}_precision"] = _ratio(counts["tp"], counts["tp"] + counts["fp"])
            out[f"{name}_recall"] = _ratio(counts["tp"], counts["tp"] + counts["fn"])
        true_gaps = self.gaps["tp"] + self.gaps["fn"]
        out["gap_length_accuracy"] = _ratio(self.gaps["exact_length"], true_gaps)
        return out


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


@dataclass
class ValidationResult:
    loss: float
    parts: dict[str, float]
    cer_in: float
    cer_out: float
    tagging: dict[str, float] = field(default_factory=dict)

    @property
    def cer_reduction(self) -> float:
        return 1 - self.cer_out / self.cer_in if self.cer_in else 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "eval_loss": self.loss,
            **{f"eval_{k}_loss": v for k, v in self.parts.items()},
            "eval_cer_in": self.cer_in,
            "eval_cer_out": self.cer_out,
            "eval_cer_reduction": self.cer_reduction,
            **{f"eval_tag_{k}": v for k, v in self.tagging.items() if not math.isnan(v)},
        }


@torch.no_grad()
def validate(
    model: EditEncoder,
    decoder: EditDecoder,
    examples: Sequence[EditExample],
    encode: Callable[[str], list[int]],
    max_gap: int,
    batch_size: int,
) -> ValidationResult:
    """Losses and tag precision/recall on the records (no extra masks), and the CER of
    two-pass repair."""
    was_training = model.training
    model.eval()
    rng = random.Random(0)
    totals: dict[str, float] = {}
    counts = TagCounts()
    predictions: list[str] = []
    ordered = sorted(examples, key=lambda e: len(e.corrupted))
    for first in range(0, len(ordered), batch_size):
        chunk = ordered[first : first + batch_size]
        batch = make_batch(chunk, encode, max_gap, rng, extra_mask_rate=0.0)
        logits = head_logits(model, batch)
        counts.add(logits, batch)
        for name, value in head_losses(logits, batch).items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(chunk)
        predictions += decoder.repair([e.corrupted for e in chunk])
    model.train(was_training)
    parts = {name: value / len(ordered) for name, value in totals.items()}
    references = [e.clean for e in ordered]
    return ValidationResult(
        loss=sum(parts.values()),
        parts=parts,
        cer_in=character_error_rate([e.corrupted for e in ordered], references),
        cer_out=character_error_rate(predictions, references),
        tagging=counts.metrics(),
    )


def learning_rate(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak at `total` steps."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_checkpoint(path: Path, model: EditEncoder, optimizer: Any, state: dict[str, Any]) -> None:
    """Weights, optimiser and loop state in one file (tensors and plain types only)."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), **state}, tmp)
    tmp.replace(path)  # never a half-written checkpoint


def load_checkpoint(path: Path, model: EditEncoder, optimizer: Any) -> dict[str, Any]:
    # weights_only: tensors and plain containers only, no arbitrary unpickling.
    payload = torch.load(path, weights_only=True)
    model.load_state_dict(payload.pop("model"))
    optimizer.load_state_dict(payload.pop("optimizer"))
    return payload


def clock() -> float:
    return time.monotonic()


@dataclass
class EditTrainResult:
    steps: int
    train_seconds: float
    best: ValidationResult | None
    best_step: int | None
    history: list[dict[str, float]]
    stopped_by: str


@dataclass
class EditTrainSetup:
    """Everything `train_edit` needs besides the model: data, budgets and knobs."""

    sampler: DamageSampler
    validation: Sequence[EditExample]
    encode: Callable[[str], list[int]]
    max_gap: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    schedule_steps: int
    weight_decay: float
    max_minutes: float
    max_steps: int
    eval_steps: int
    patience: int
    loss_weights: Mapping[str, float]
    label_smoothing: float
    extra_mask_rate: float
    bfloat16: bool


def train_edit(
    model: EditEncoder,
    decoder: EditDecoder,
    setup: EditTrainSetup,
    checkpoint_dir: Path,
    *,
    resume: bool = False,
    on_metrics: Callable[[dict[str, float], int], None] = lambda metrics, step: None,
    on_best: Callable[[EditEncoder], None] = lambda model: None,
) -> EditTrainResult:
    """The plain training loop: time and step budgets, evaluation, early stopping, resume.

    `on_best` is called with the model whenever validation CER improves (it saves the model).
    """
    from tqdm.auto import tqdm

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=setup.learning_rate, weight_decay=setup.weight_decay
    )
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_dir / CHECKPOINT
    state: dict[str, Any] = {"step": 0, "best_cer": math.inf, "best_step": None, "stale": 0}
    state["history"] = []
    if resume:
        if checkpoint.is_file():
            state.update(load_checkpoint(checkpoint, optimizer=optimizer, model=model))
            log.info("resumed from %s at step %d", checkpoint, state["step"])
        else:
            log.warning("--resume: no checkpoint in %s, starting from scratch", checkpoint_dir)
    started, stopped_by, best = clock(), "step budget", None
    budget = setup.max_minutes * 60
    model.train()
    progress = tqdm(total=setup.max_steps or None, initial=state["step"], desc="edit", unit="step")
    while not setup.max_steps or state["step"] < setup.max_steps:
        step = state["step"]
        examples, rng = setup.sampler.examples(step, setup.batch_size)
        batch = make_batch(examples, setup.encode, setup.max_gap, rng, setup.extra_mask_rate)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(
                step, setup.learning_rate, setup.warmup_steps, setup.schedule_steps
            )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=setup.bfloat16):
            loss, parts = batch_loss(model, batch, setup.loss_weights, setup.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state["step"] = step + 1
        progress.update(1)
        progress.set_postfix(loss=f"{loss.item():.3f}")
        if state["step"] % 50 == 0:
            metrics = {"loss": loss.item(), **{f"{k}_loss": v for k, v in parts.items()}}
            on_metrics(metrics, state["step"])
            state["history"].append({"step": state["step"], **metrics})
        out_of_time = clock() - started >= budget
        if state["step"] % setup.eval_steps == 0 or out_of_time:
            result = validate(
                model, decoder, setup.validation, setup.encode, setup.max_gap, setup.batch_size
            )
            on_metrics(result.metrics(), state["step"])
            state["history"].append({"step": state["step"], **result.metrics()})
            progress.write(
                f"step {state['step']}: eval CER {result.cer_out:.4f} "
                f"(input {result.cer_in:.4f}, reduction {result.cer_reduction:.1%})"
            )
            if result.cer_out < state["best_cer"]:
                state.update(best_cer=result.cer_out, best_step=state["step"], stale=0)
                best = result
                on_best(model)
            else:
                state["stale"] += 1
            save_checkpoint(checkpoint, model, optimizer, state)
            if state["stale"] >= setup.patience:
                stopped_by = "early stopping"
                break
        if out_of_time:
            stopped_by = "time budget"
            break
    progress.close()
    return EditTrainResult(
        steps=state["step"],
        train_seconds=clock() - started,
        best=best,
        best_step=state["best_step"],
        history=state["history"],
        stopped_by=stopped_by,
    )


def train_edit_model(
    model_config: ModelConfig,
    train_config: TrainConfig,
    clean_windows: Sequence[str],
    validation: Sequence[EditExample],
    profiles: Mapping[str, Mutator],
    clean_fraction: float,
    output_dir: Path,
    *,
    resume: bool = False,
    on_metrics: Callable[[dict[str, float], int], None] = lambda metrics, step: None,
    max_window_bytes: int = DEFAULT_WINDOW_BYTES,
) -> TrainResult:
    """Build (or resume) an edit model, train it, and save its best checkpoint to output/model."""
    from textrepair.model.families import build_model, inference_dtype, save_model

    if not validation:
        raise ValueError("training needs gold/validation rows: run `dvc repro` first")
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    torch.manual_seed(train_config.seed)
    windows = list(clean_windows)[: train_config.max_train_rows or None]
    if train_config.warm_start:  # a saved edit model's weights and vocabulary, fresh optimiser
        model, vocab = warm_start_model(Path(train_config.warm_start), model_config)
    else:  # the vocabulary is fixed by the training windows: a resumed run rebuilds the same one
        model, vocab = build_model(model_config, windows)
    settings = model_config.edit
    decoder = EditDecoder(model, vocab, EditDecoding.from_settings(settings))
    schedule = train_config.max_steps or 10_000
    setup = EditTrainSetup(
        sampler=DamageSampler(
            windows, profiles, settings.profile_mix, clean_fraction, train_config.seed
        ),
        validation=list(validation)[: train_config.eval_rows],
        encode=vocab.encode,
        max_gap=settings.max_gap,
        batch_size=train_config.batch_size,
        learning_rate=train_config.learning_rate,
        warmup_steps=math.ceil(train_config.warmup_ratio * schedule),
        schedule_steps=schedule,
        weight_decay=train_config.weight_decay,
        max_minutes=train_config.max_minutes,
        max_steps=train_config.max_steps,
        eval_steps=train_config.eval_steps,
        patience=train_config.early_stopping_patience,
        loss_weights=settings.loss_weights,
        label_smoothing=settings.label_smoothing,
        extra_mask_rate=settings.extra_mask_rate,
        bfloat16=inference_dtype(train_config.precision) == torch.bfloat16,
    )
    model_dir = output_dir / "model"

    def save_best(best: EditEncoder) -> None:
        save_model(best, vocab, model_config, model_dir, max_window_bytes=max_window_bytes)

    result = train_edit(
        model,
        decoder,
        setup,
        output_dir / "checkpoints",
        resume=resume,
        on_metrics=on_metrics,
        on_best=save_best,
    )
    if not (model_dir / "model.safetensors").is_file():  # resumed past its best: keep weights
        save_best(model)
    calibration = calibrate_decoding(model_dir, setup.validation)
    report = write_validation_report(model_dir, setup.validation, output_dir / VALIDATION_FILE)
    on_metrics({f"calibrated_{k}": v for k, v in report.items()}, result.steps)
    (output_dir / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=2) + "\n")
    log.info(
        "trained %d steps in %.0f s (%s)", result.steps, result.train_seconds, result.stopped_by
    )
    return TrainResult(
        model_dir=model_dir,
        steps=result.steps,
        train_seconds=result.train_seconds,
        best_eval_loss=None if result.best is None else result.best.loss,
        best_step=result.best_step,
        log_history=result.history,
        stopped_by=result.stopped_by,
    )


def warm_start_model(path: Path, model_config: ModelConfig) -> tuple[EditEncoder, Any]:
    """The weights and vocabulary of a saved edit model of the same size, in training mode."""
    from textrepair.model.edit import load_weights
    from textrepair.model.families import ModelLoadError, read_manifest

    manifest = read_manifest(path)
    if manifest["family"] != "edit" or manifest["size"] != model_config.size:
        raise ModelLoadError(
            f"train.warm_start: {path} holds a {manifest['family']} ({manifest['size']}) model, "
            f"not an edit ({model_config.size}) one"
        )
    settings = model_config.edit
    model, vocab = load_weights(path, model_config.size, settings.max_gap, model_config.dropout)
    return model.train(), vocab


def validation_examples(rows: Sequence[Mapping[str, Any]]) -> list[EditExample]:
    """Gold rows (with their mutation records) as labelled validation examples."""
    return [
        EditExample(r["corrupted"], r["clean"], [Mutation(**m) for m in r["mutations"] or []])
        for r in rows
    ]


def write_validation_report(
    model_dir: Path, examples: Sequence[EditExample], path: Path, batch_size: int = 32
) -> dict[str, float]:
    """Score a saved edit model on validation examples (CER, losses, tag precision/recall per
    action, gap-length accuracy) and write the numbers as JSON."""
    from textrepair.model.families import load_model

    model, vocab, config = load_model(model_dir)
    model = model.float()
    decoder = EditDecoder(model, vocab, EditDecoding.from_settings(config.edit))
    result = validate(model, decoder, examples, vocab.encode, config.edit.max_gap, batch_size)
    metrics = {"rows": float(len(examples)), **result.metrics()}
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


# Decoding settings tried on gold/validation, one knob at a time (coordinate search).
CALIBRATION_GRID: dict[str, tuple[float | int, ...]] = {
    "keep_threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "gap_threshold": (0.5, 0.7, 0.85, 0.95),
    "refine_rounds": (0, 1),
}
# The most a calibrated model may change of clean text (the target for clean rows).
MAX_BROKEN_RATE = 0.003
# A refine round re-tags every window the first repair changed: a full encoder pass (and its
# fills), a third of a damaged sentence's latency. It stays only if it lowers the validation CER
# by this much (relative), the promotion gate's `registry.cer_margin` for a measurable win.
REFINE_MIN_GAIN = 0.02


def calibrate_decoding(
    model_dir: Path,
    examples: Sequence[EditExample],
    grid: Mapping[str, Sequence[float | int]] = CALIBRATION_GRID,
    max_broken_rate: float = MAX_BROKEN_RATE,
    batch_size: int = 32,
    refine_min_gain: float = REFINE_MIN_GAIN,
) -> list[dict[str, float]]:
    """Pick the decoding knobs with the lowest validation CER among those that change at most
    `max_broken_rate` of the clean windows' characters, and save them in the model's manifest.
    Refinement, which costs passes, must win by `refine_min_gain` (`fewer_passes_unless_better`).

    The clean text of every validation row doubles as a clean window, so the broken rate is
    measured on hundreds of windows rather than the few undamaged rows. Returns every setting
    tried with its CER and broken rate (the calibration table).
    """
    from textrepair.model.families import MANIFEST, load_model, write_manifest

    model, vocab, config = load_model(model_dir)
    damaged = [e.corrupted for e in examples]
    clean = [e.clean for e in examples]
    scores: dict[EditDecoding, tuple[float, float]] = {}

    def score(decoding: EditDecoding) -> tuple[float, float]:
        if decoding not in scores:
            decoder = EditDecoder(model, vocab, decoding)
            cer = character_error_rate(_repair_sorted(decoder, damaged, batch_size), clean)
            broken = character_error_rate(_repair_sorted(decoder, clean, batch_size), clean)
            scores[decoding] = (cer, broken)
        return scores[decoding]

    def rank(decoding: EditDecoding) -> tuple[bool, float]:
        cer, broken = score(decoding)
        return broken > max_broken_rate, cer if broken <= max_broken_rate else broken

    best = EditDecoding.from_settings(config.edit)
    for knob, values in grid.items():
        candidates = [replace(best, **{knob: value}) for value in values]
        best = min([best, *candidates], key=rank)
    best = fewer_passes_unless_better(best, score, max_broken_rate, refine_min_gain)
    manifest_path = model_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["config"]["edit"].update(asdict(best))
    write_manifest(model_dir, manifest)
    log.info("calibrated decoding on %d validation rows: %s", len(examples), best)
    return [{**asdict(d), "cer": cer, "broken_rate": broken} for d, (cer, broken) in scores.items()]


def fewer_passes_unless_better(
    best: EditDecoding,
    score: Callable[[EditDecoding], tuple[float, float]],
    max_broken_rate: float,
    min_gain: float,
) -> EditDecoding:
    """`best` without refine rounds, unless they lower the CER by `min_gain` (relative) or the
    setting without them changes more clean text than `max_broken_rate` allows."""
    if not best.refine_rounds:
        return best
    cheaper = replace(best, refine_rounds=0)
    (cer, _), (cheaper_cer, cheaper_broken) = score(best), score(cheaper)
    if cheaper_broken <= max_broken_rate and cer > cheaper_cer * (1 - min_gain):
        return cheaper
    return best


def _repair_sorted(decoder: EditDecoder, texts: Sequence[str], batch_size: int) -> list[str]:
    """Repair in batches of similar length, results in input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [""] * len(texts)
    for first in range(0, len(order), batch_size):
        chunk = order[first : first + batch_size]
        for i, text in zip(chunk, decoder.repair([texts[i] for i in chunk]), strict=True):
            out[i] = text
    return out
