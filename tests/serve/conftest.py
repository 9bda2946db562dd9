"""Fixtures for the service tests: a tiny random byte-T5 on disk and its Repairer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from textrepair.model.families import ModelConfig, build_model, save_model
from textrepair.model.repairer import Repairer


@pytest.fixture(scope="session", autouse=True)
def _one_thread(one_torch_thread) -> None:
    """Every service test, and the tiny model built for them, on one torch thread."""


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = ModelConfig(dtype="float32", family="byt5", size="tiny", dropout=0.0)
    model, tokenizer = build_model(config)
    return save_model(model.eval(), tokenizer, config, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_repairer(tiny_model_dir) -> Repairer:
    return Repairer.load(tiny_model_dir)
