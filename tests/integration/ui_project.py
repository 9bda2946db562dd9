"""A throwaway project for the app and monitor tests: tiny gold, tiny model, temp MLflow."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from textrepair.config import Settings
from textrepair.model.families import ModelConfig, build_model, save_model

# A SymSpell dictionary of the tiny gold's words: loads in milliseconds instead of seconds.
DICTIONARY_WORDS = "the quick brown fox jumps over a lazy dog while seven wizards vex chumps"


def write_project(
    tmp: Path, tiny_params, write_tiny_gold, tracking_uri: str, windows: int = 60
) -> dict:
    """params.yaml, gold and a SymSpell dictionary under `tmp`; returns the params.

    `tracking_uri` lets a module share one temporary MLflow store: creating one costs seconds.
    """
    params = tiny_params(tmp, "ui-test")
    params["mlflow"]["tracking_uri"] = tracking_uri
    params["ui"] = {"symspell_dictionary": str(tmp / "words.txt"), "sample_rows": 5}
    (tmp / "words.txt").write_text(
        "".join(f"{word} {1000 - i}\n" for i, word in enumerate(DICTIONARY_WORDS.split()))
    )
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    write_tiny_gold(Settings(**params), windows)
    return params


def write_tiny_model(path: Path) -> Path:
    """A random tiny byte-T5 directory (its repairs are nonsense; the wiring is the point).

    Its output budget is tiny, so a repair stops after a few steps and falls back to the input:
    a random model never emits its end marker and would otherwise run to 1.5x the input.
    """
    torch.manual_seed(0)
    config = ModelConfig(
        dtype="float32", family="byt5", size="tiny", dropout=0.0, max_new_tokens_ratio=0.05
    )
    model, tokenizer = build_model(config)
    return save_model(model.eval(), tokenizer, config, path)
