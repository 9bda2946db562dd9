"""Shared by the edit-family benchmarks: a random-init model to time.

A random `edit` model of a preset size times like a trained one per forward pass (speed does not
depend on the weights), but it tags many characters as damaged, so it runs more fill rounds than
a trained model would: report figures of a random model as such.
"""

from __future__ import annotations

import json
from pathlib import Path


def random_edit_model(path: Path, size: str = "small", dtype: str = "auto") -> Path:
    """Save a seeded random `edit` model of `size` (vocabulary from 200 KJV verses) to `path`.

    `dtype` is the manifest's inference dtype; `auto` is what params.yaml gives a trained model.
    """
    import torch

    from textrepair.data.corpus import kjv_path
    from textrepair.model.families import ModelConfig, build_model, save_model

    verses = [json.loads(line)["text"] for line in kjv_path().read_text().splitlines()[:200]]
    torch.manual_seed(0)
    config = ModelConfig(family="edit", size=size, dropout=0.0, dtype=dtype)
    model, vocab = build_model(config, verses)
    return save_model(model.eval(), vocab, config, path)
