"""Fine-tuning with the Hugging Face Trainer: time and step budgets, early stopping, resume.

Both families train on (corrupted → clean) windows from gold/train, clean rows included so the
model learns to leave good text alone, and validate on gold/validation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from textrepair.config import ModelConfig, TrainConfig
from textrepair.model.families import (
    DEFAULT_WINDOW_BYTES,
    build_model,
    encode,
    inference_dtype,
    load_adapter_weights,
    save_model,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model_dir: Path
    steps: int
    train_seconds: float
    best_eval_loss: float | None
    best_step: int | None  # the step whose checkpoint was loaded at the end (lowest eval loss)
    log_history: list[dict[str, Any]]
    stopped_by: str


class TimeBudget(TrainerCallback):
    """Stops training, after a last evaluation and save, once the wall-clock budget is spent."""

    def __init__(self, minutes: float) -> None:
        self.budget_seconds = minutes * 60
        self.started = time.monotonic()
        self.expired = False

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        if time.monotonic() - self.started >= self.budget_seconds:
            self.expired = True
            control.should_evaluate = True
            control.should_save = True
            control.should_training_stop = True
        return control


class PairDataset(torch.utils.data.Dataset):
    """Encoded (corrupted, clean) pairs, tokenised once up front."""

    def __init__(self, config: ModelConfig, tokenizer: Any, pairs: Sequence[tuple[str, str]]):
        self.features = [encode(config, tokenizer, c, t) for c, t in pairs]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.features[index]


def pad_batch(features: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad inputs with pad_id and labels with -100 (ignored by the loss)."""
    width = max(len(f["input_ids"]) for f in features)
    label_width = max(len(f["labels"]) for f in features)
    ids = [f["input_ids"] + [pad_id] * (width - len(f["input_ids"])) for f in features]
    mask = [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
    labels = [f["labels"] + [-100] * (label_width - len(f["labels"])) for f in features]
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "labels": torch.tensor(labels),
    }


def train(
    model_config: ModelConfig,
    config: TrainConfig,
    train_pairs: Sequence[tuple[str, str]],
    validation_pairs: Sequence[tuple[str, str]],
    output_dir: Path,
    *,
    resume: bool = False,
    report_to: Sequence[str] = (),
    max_window_bytes: int = DEFAULT_WINDOW_BYTES,
) -> TrainResult:
    """Train a model of `model_config`, keep the best checkpoint by validation loss, save it."""
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed

    if not train_pairs or not validation_pairs:
        raise ValueError("training needs gold train and validation rows: run `dvc repro` first")
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    model, tokenizer = build_model(model_config)
    if config.warm_start:
        load_adapter_weights(model, config.warm_start)
    limit = config.max_train_rows or len(train_pairs)
    train_set = PairDataset(model_config, tokenizer, train_pairs[:limit])
    eval_set = PairDataset(model_config, tokenizer, validation_pairs[: config.eval_rows])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    budget = TimeBudget(config.max_minutes)
    args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        # Windows of similar length together: far less padding, the same examples per epoch.
        train_sampling_strategy="group_by_length",
        learning_rate=config.learning_rate,
        warmup_steps=math.ceil(config.warmup_ratio * _planned_steps(config, len(train_set))),
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, min(50, config.eval_steps // 4)),
        seed=config.seed,
        data_seed=config.seed,
        report_to=list(report_to),
        use_cpu=not torch.cuda.is_available(),
        bf16=inference_dtype(config.precision) == torch.bfloat16,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=lambda features: pad_batch(features, pad_id),
        callbacks=[
            EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience),
            budget,
        ],
    )
    started = time.monotonic()
    output = trainer.train(resume_from_checkpoint=_last_checkpoint(output_dir) if resume else None)
    seconds = time.monotonic() - started
    model_dir = save_model(
        trainer.model,
        tokenizer,
        model_config,
        output_dir / "model",
        max_window_bytes=max_window_bytes,
    )
    history = list(trainer.state.log_history)
    stopped_by = "time budget" if budget.expired else _stop_reason(trainer, config)
    log.info("trained %d steps in %.0f s (%s)", output.global_step, seconds, stopped_by)
    return TrainResult(
        model_dir=model_dir,
        steps=output.global_step,
        train_seconds=seconds,
        best_eval_loss=trainer.state.best_metric,
        best_step=trainer.state.best_global_step,
        log_history=history,
        stopped_by=stopped_by,
    )


def _planned_steps(config: TrainConfig, rows: int) -> int:
    per_epoch = math.ceil(rows / config.batch_size)
    planned = math.ceil(per_epoch * config.epochs)
    return min(planned, config.max_steps) if config.max_steps else planned


def _last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = output_dir / "checkpoints"
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if found is None:
        log.warning("--resume: no checkpoint in %s, starting from scratch", folder)
    return found


def _stop_reason(trainer: Any, config: TrainConfig) -> str:
    if config.max_steps and trainer.state.global_step >= config.max_steps:
        return "step budget"
    if trainer.state.epoch is not None and trainer.state.epoch >= config.epochs:
        return "epochs done"
    return "early stopping"
