"""How an adapter directory relates to its base: a release leaves the tokenizer to the base when
the base has the same files; an export merges the adapter in so the base is no longer needed."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tiny_models import local_base_config, perturb_lora
from transformers import AutoTokenizer

from textrepair.lifecycle.release import drop_base_tokenizer
from textrepair.model.families import (
    MANIFEST,
    build_model,
    encode,
    load_model,
    merge_adapter,
    save_model,
)


def _saved_adapter(tmp_path):
    config = local_base_config(tmp_path)
    # As `bases.gguf_to_safetensors` writes it: a tokenizer loaded from local files, then saved.
    AutoTokenizer.from_pretrained(tmp_path / "base").save_pretrained(tmp_path / "base")
    model, tokenizer = build_model(config)
    save_model(perturb_lora(model), tokenizer, config, tmp_path / "m")
    return config, tmp_path / "m"


def _mark(model_dir, tokenizer: str) -> None:
    manifest = json.loads((model_dir / MANIFEST).read_text())
    (model_dir / MANIFEST).write_text(json.dumps({**manifest, "tokenizer": tokenizer}))


def test_identical_tokenizer_files_are_dropped_and_loaded_from_the_base(tmp_path):
    config, model_dir = _saved_adapter(tmp_path)
    before = load_model(model_dir)
    assert drop_base_tokenizer(model_dir, tmp_path / "base") == "base"
    assert not list(model_dir.glob("tokenizer*")) and not list(model_dir.glob("special_tokens*"))
    _mark(model_dir, "base")
    after = load_model(model_dir)
    ids = encode(config, after.tokenizer, "helo wrld")["input_ids"]
    assert ids == encode(config, before.tokenizer, "helo wrld")["input_ids"]
    with torch.no_grad():
        logits = [m.model(input_ids=torch.tensor([ids])).logits for m in (before, after)]
    assert torch.equal(*logits)


def test_a_tokenizer_that_differs_from_the_base_stays(tmp_path):
    _, model_dir = _saved_adapter(tmp_path)
    config_file = model_dir / "tokenizer_config.json"
    config_file.write_text(config_file.read_text().replace("}", ', "note": "changed"}', 1))
    kept = sorted(p.name for p in model_dir.iterdir())
    assert drop_base_tokenizer(model_dir, tmp_path / "base") == "own"
    assert sorted(p.name for p in model_dir.iterdir()) == kept


def _logits(loaded, ids):
    with torch.no_grad():
        return loaded.model(input_ids=torch.tensor([ids])).logits


@pytest.mark.parametrize("tokenizer_from_base", [False, True])
def test_a_merged_adapter_stands_alone(tmp_path, tokenizer_from_base):
    config, model_dir = _saved_adapter(tmp_path)
    if tokenizer_from_base:
        _mark(model_dir, drop_base_tokenizer(model_dir, tmp_path / "base"))
    before = load_model(model_dir)
    merge_adapter(model_dir)
    shutil.rmtree(tmp_path / "base")
    manifest = json.loads((model_dir / MANIFEST).read_text())
    assert (manifest["weights"], manifest["base"]) == ("merged", None)
    assert not list(model_dir.glob("adapter*"))
    after = load_model(model_dir)
    ids = encode(config, after.tokenizer, "helo wrld")["input_ids"]
    assert ids == encode(config, before.tokenizer, "helo wrld")["input_ids"]
    assert torch.allclose(_logits(before, ids), _logits(after, ids), atol=1e-5)
