"""Helpers for the model tests: toy sentences and a few seconds of copy training."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, ByT5Tokenizer

from textrepair.model.families import ModelConfig, encode, tiny_causal_config

_VOCABULARY = """the and of to that in he shall unto for his lord they be is him not them it with
all thou thy was god which my me said but ye their have will thee from as are when this out were"""
WORDS = _VOCABULARY.split()


def sentence(rng: random.Random, low: int = 2, high: int = 8) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def train_to_copy(model, tokenizer, config: ModelConfig, steps: int, seed: int = 0):
    """A few optimiser steps on the identity task, so greedy output has long copyable runs."""
    rng = random.Random(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = [encode(config, tokenizer, s, s) for s in (sentence(rng) for _ in range(16))]
        width = max(len(f["input_ids"]) for f in batch)
        pad = tokenizer.pad_token_id or 0

        ids = torch.tensor([_padded(f["input_ids"], pad, width) for f in batch])
        labels = torch.tensor([_padded(f["labels"], -100, width) for f in batch])
        mask = torch.tensor(
            [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in batch]
        )
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    return model.eval()


def _padded(row: list[int], fill: int, width: int) -> list[int]:
    return row + [fill] * (width - len(row))


def local_base_config(folder: Path, rank: int = 16) -> ModelConfig:
    """causal_lora over a tiny random base saved in `folder`/base: saved as a compact adapter."""
    base_dir = folder / "base"
    if not base_dir.exists():
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(tiny_causal_config()).save_pretrained(base_dir)
        ByT5Tokenizer().save_pretrained(base_dir)
    return ModelConfig(
        dtype="float32",
        family="causal_lora",
        size="small",
        init_from=str(base_dir),
        lora={"r": rank},
    )


def perturb_lora(model):
    """LoRA starts as a no-op; random B matrices make it change the outputs."""
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    return model.eval()
