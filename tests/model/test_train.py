"""`model.train.train` on a tiny causal model: mixed precision and warm start reach the Trainer."""

from __future__ import annotations

import math
import random

import pytest
from tiny_models import local_base_config, sentence, train_to_copy

from textrepair.config import TrainConfig
from textrepair.model.families import ModelLoadError, build_model, read_manifest, save_model
from textrepair.model.train import train


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(s, s) for s in (sentence(rng) for _ in range(n))]


def _config(**changes) -> TrainConfig:
    # float32: the same numbers whether or not this CPU has a bfloat16 fast path ("auto").
    knobs = dict(
        max_minutes=5,
        max_steps=2,
        batch_size=4,
        eval_steps=1,
        eval_rows=4,
        seed=0,
        precision="float32",
    )
    return TrainConfig(**{**knobs, **changes})


def _first_loss(result) -> float:
    return next(entry["loss"] for entry in result.log_history if "loss" in entry)


@pytest.mark.slow
def test_bfloat16_warm_started_training_starts_from_the_adapter(tmp_path):
    config = local_base_config(tmp_path, rank=4)
    model, tokenizer = build_model(config)
    copier = train_to_copy(model, tokenizer, config, steps=60)
    save_model(copier, tokenizer, config, tmp_path / "start")
    train_pairs, validation_pairs = _pairs(8, seed=1), _pairs(4, seed=2)

    cold = train(
        config, _config(), train_pairs, validation_pairs, tmp_path / "cold", max_window_bytes=96
    )
    assert read_manifest(cold.model_dir)["max_window_bytes"] == 96  # Repairer.load reads it
    warm = train(
        config,
        _config(precision="bfloat16", warm_start=str(tmp_path / "start")),
        train_pairs,
        validation_pairs,
        tmp_path / "warm",
    )
    assert warm.steps == 2 and math.isfinite(warm.best_eval_loss)
    # Same seed and data (the copy task): only the starting adapter differs.
    assert _first_loss(warm) < _first_loss(cold) - 0.1


def test_warm_start_from_a_mismatched_adapter_stops_before_training(tmp_path):
    config = local_base_config(tmp_path, rank=4)
    save_model(*build_model(config), config, tmp_path / "start")
    other = local_base_config(tmp_path, rank=8)
    with pytest.raises(ModelLoadError, match="does not fit"):
        train(
            other,
            _config(warm_start=str(tmp_path / "start")),
            _pairs(8, 1),
            _pairs(4, 2),
            tmp_path / "out",
        )
