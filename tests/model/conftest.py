"""Tiny random models for the model tests: built offline in seconds, seeded, shared per session."""

from __future__ import annotations

import pytest
import torch
from tiny_models import train_to_copy

from textrepair.model.families import ModelConfig, build_model


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread) -> None:
    """Every model test, and the tiny models built for them, on one torch thread."""


@pytest.fixture(scope="session")
def byt5_config() -> ModelConfig:
    return ModelConfig(dtype="float32", family="byt5", size="tiny", dropout=0.0)


@pytest.fixture(scope="session")
def causal_config() -> ModelConfig:
    return ModelConfig(dtype="float32", family="causal_lora", size="tiny")


@pytest.fixture(scope="session")
def tiny_byt5(byt5_config):
    torch.manual_seed(0)
    model, tokenizer = build_model(byt5_config)
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def tiny_causal(causal_config):
    torch.manual_seed(0)
    model, tokenizer = build_model(causal_config)
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def copying_byt5(byt5_config):
    """A tiny byte-T5 trained for a few seconds to copy: partly right, so drafts are partly kept."""
    torch.manual_seed(1)
    model, tokenizer = build_model(byt5_config)
    return train_to_copy(model, tokenizer, byt5_config, steps=80), tokenizer
