"""Model families: sizes, shapes, the encode contract, save/load and its failure modes."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_models import local_base_config, perturb_lora
from transformers import ByT5Tokenizer, T5ForConditionalGeneration

from textrepair.model.families import (
    EOS_ID,
    MANIFEST,
    ModelConfig,
    ModelLoadError,
    build_model,
    byt5_config,
    count_parameters,
    decode_bytes,
    encode,
    encode_prompt,
    inference_dtype,
    leading_special_ids,
    load_adapter_weights,
    load_model,
    save_model,
)
from textrepair.model.repairer import Repairer


@pytest.mark.parametrize(
    ("size", "low", "high"), [("tiny", 1e5, 1e6), ("small", 3e6, 5e6), ("base", 10e6, 12e6)]
)
def test_byt5_presets_have_their_advertised_size(size, low, high):
    with torch.device("meta"):  # no memory, no init: just count
        model = T5ForConditionalGeneration(byt5_config(size))
    assert low <= count_parameters(model) <= high


def test_byt5_forward_shapes(tiny_byt5, byt5_config):
    model, tokenizer = tiny_byt5
    features = encode(byt5_config, tokenizer, "héllo wörld", "hello world")
    ids = torch.tensor([features["input_ids"]])
    labels = torch.tensor([features["labels"]])
    out = model(input_ids=ids, labels=labels)
    assert out.logits.shape == (1, labels.shape[1], 384)
    assert torch.isfinite(out.loss)


def test_byte_encoding_matches_the_byt5_tokenizer_and_ignores_special_strings(byt5_config):
    tokenizer = ByT5Tokenizer()
    text = "Repair wörds 👋"
    assert encode(byt5_config, tokenizer, text)["input_ids"] == tokenizer(text).input_ids
    ids = encode(byt5_config, tokenizer, "a</s>b")["input_ids"]
    assert ids.count(EOS_ID) == 1 and ids[-1] == EOS_ID  # '</s>' in the text stays bytes
    assert decode_bytes(ids) == "a</s>b"
    assert decode_bytes([0xC3 + 3, EOS_ID]) is None  # a lone lead byte is not UTF-8


def test_causal_encoding_masks_the_prompt(tiny_causal, causal_config):
    _, tokenizer = tiny_causal
    features = encode(causal_config, tokenizer, "helo", "hello")
    prompt = encode(causal_config, tokenizer, "helo")["input_ids"]
    assert features["input_ids"][: len(prompt)] == prompt
    assert features["labels"][: len(prompt)] == [-100] * len(prompt)
    target = features["labels"][len(prompt) :]
    assert target[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(target[:-1]) == "hello"


def _word_tokenizer(bos: bool):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<bos>", "<unk>", "fix", ":", "helo", "hello"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bos:  # as Gemma's tokenizer does
        backend.post_processor = processors.TemplateProcessing(
            single="<bos> $A", special_tokens=[("<bos>", 2)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )


@pytest.mark.parametrize("bos", [True, False])
def test_prompts_start_with_the_bos_only_when_the_tokenizer_adds_one(bos):
    tokenizer = _word_tokenizer(bos)
    features = encode_prompt(tokenizer, "fix {corrupted} :", "helo", "hello")
    expected = [2, 4, 6, 5] if bos else [4, 6, 5]
    assert features["input_ids"] == [*expected, 7, 1]
    assert features["labels"] == [-100] * len(expected) + [7, 1]


def test_an_end_marker_the_tokenizer_appends_is_not_a_prefix():
    assert ByT5Tokenizer()("a")["input_ids"][-1] == EOS_ID  # it appends </s>...
    assert leading_special_ids(ByT5Tokenizer()) == []  # ...which is no prefix


def test_causal_lora_trains_only_the_adapter(tiny_causal):
    model, _ = tiny_causal
    assert 0 < count_parameters(model, trainable_only=True) < count_parameters(model)
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    logits = model(input_ids=torch.tensor([[5, 6, 7]])).logits
    assert logits.shape == (1, 3, 384)


def test_config_rejects_unknown_family_and_fields():
    with pytest.raises(ValueError):
        ModelConfig(dtype="float32", family="gpt")
    with pytest.raises(ValueError):
        ModelConfig(dtype="float32", colour="blue")
    assert (
        ModelConfig(dtype="float32", family="causal_lora", size="small").base_model() == "smollm2"
    )
    assert ModelConfig(dtype="float32", family="causal_lora", size="tiny").base_model() is None


def _greedy(model, ids):
    return model.generate(input_ids=torch.tensor([ids]), max_new_tokens=12, do_sample=False)


def test_byt5_save_load_roundtrip_gives_identical_outputs(tiny_byt5, byt5_config, tmp_path):
    model, tokenizer = tiny_byt5
    save_model(model, tokenizer, byt5_config, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
    assert manifest["family"] == "byt5" and manifest["parameters"] == count_parameters(model)
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert not list((tmp_path / "m").glob("*.bin"))
    loaded = load_model(tmp_path / "m")
    assert loaded.config == byt5_config
    ids = encode(byt5_config, tokenizer, "hello")["input_ids"]
    assert torch.equal(_greedy(model, ids), _greedy(loaded.model, ids))


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_causal_with_random_base_is_saved_merged(causal_config, tmp_path):
    torch.manual_seed(0)
    model, tokenizer = build_model(causal_config)
    ids = encode(causal_config, tokenizer, "hello")["input_ids"]
    before = _logits(model, ids)
    perturb_lora(model)
    save_model(model, tokenizer, causal_config, tmp_path / "m")
    assert json.loads((tmp_path / "m" / MANIFEST).read_text())["weights"] == "merged"
    loaded = load_model(tmp_path / "m")
    assert not torch.allclose(before, _logits(model, ids))
    assert torch.allclose(_logits(model, ids), _logits(loaded.model, ids), atol=1e-5)
    assert torch.equal(_greedy(model, ids), _greedy(loaded.model, ids))


@pytest.mark.parametrize("family", ["byt5", "causal_lora"])
def test_bfloat16_models_load_in_bfloat16_and_repair(family, tmp_path):
    config = ModelConfig(dtype="float32", family=family, size="tiny", dropout=0.0)
    torch.manual_seed(0)
    model, tokenizer = build_model(config)
    model = perturb_lora(model) if family == "causal_lora" else model.eval()
    save_model(model, tokenizer, config.model_copy(update={"dtype": "bfloat16"}), tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    ids = encode(config, tokenizer, "hello")["input_ids"]
    want, got = _forward(model, ids), _forward(loaded.model, ids).float()
    assert not torch.equal(want, got)  # bfloat16 really computes something else...
    assert (want - got).abs().mean() < 0.05 * want.abs().mean()  # ... close to float32's
    results = Repairer(loaded.model, loaded.tokenizer, family).repair(["hello world", ""])
    assert results[1].text == "" and isinstance(results[0].text, str)


def test_auto_dtype_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert inference_dtype("auto") == torch.float32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert inference_dtype("auto") == torch.bfloat16
    assert inference_dtype("float32") == torch.float32


def _forward(model, ids):
    extra = {"decoder_input_ids": torch.tensor([[0]])} if model.config.is_encoder_decoder else {}
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), **extra).logits


def test_causal_adapter_is_saved_compact_and_attached_to_its_base(tmp_path):
    config = local_base_config(tmp_path)
    base_dir = tmp_path / "base"
    model, tokenizer = build_model(config)
    ids = encode(config, tokenizer, "hello")["input_ids"]
    before = _logits(model, ids)
    save_model(perturb_lora(model), tokenizer, config, tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert json.loads((tmp_path / "m" / MANIFEST).read_text())["base"] == str(base_dir)
    loaded = load_model(tmp_path / "m")
    assert not torch.allclose(before, _logits(model, ids))
    assert torch.allclose(_logits(model, ids), _logits(loaded.model, ids), atol=1e-5)
    assert torch.equal(_greedy(model, ids), _greedy(loaded.model, ids))


def test_adapter_with_missing_base_is_a_clear_error(tmp_path):
    config = local_base_config(tmp_path)
    save_model(*build_model(config), config, tmp_path / "m")
    (tmp_path / "base" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="cannot load model weights"):
        load_model(tmp_path / "m")


def test_warm_start_gives_a_fresh_model_the_saved_adapter(tmp_path):
    config = local_base_config(tmp_path)
    trained, tokenizer = build_model(config)
    save_model(perturb_lora(trained), tokenizer, config, tmp_path / "m")
    fresh = build_model(config)[0].eval()
    ids = encode(config, tokenizer, "hello")["input_ids"]
    assert not torch.allclose(_logits(fresh, ids), _logits(trained, ids))
    load_adapter_weights(fresh, tmp_path / "m")
    assert torch.allclose(_logits(fresh, ids), _logits(trained, ids), atol=1e-6)


def test_warm_start_from_another_lora_layout_is_a_clear_error(tmp_path):
    rank_four = local_base_config(tmp_path, rank=4)
    save_model(*build_model(rank_four), rank_four, tmp_path / "m")
    fresh = build_model(local_base_config(tmp_path))[0]
    with pytest.raises(ModelLoadError, match="does not fit this model"):
        load_adapter_weights(fresh, tmp_path / "m")


def test_warm_start_needs_an_adapter(tmp_path, tiny_byt5):
    fresh = build_model(local_base_config(tmp_path))[0]
    with pytest.raises(ModelLoadError, match="takes a LoRA adapter directory"):
        load_adapter_weights(fresh, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="needs the causal_lora family"):
        load_adapter_weights(tiny_byt5[0], tmp_path / "nowhere")


# ------------------------------------------------------------------------------- failure modes
@pytest.fixture
def saved(tiny_byt5, byt5_config, tmp_path):
    model, tokenizer = tiny_byt5
    return save_model(model, tokenizer, byt5_config, tmp_path / "m")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_directory_without_manifest_is_a_clear_error(saved):
    (saved / MANIFEST).unlink()
    with pytest.raises(ModelLoadError, match="not a textrepair model"):
        load_model(saved)


def test_unreadable_manifest_is_a_clear_error(saved):
    (saved / MANIFEST).write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable"):
        load_model(saved)


def test_missing_weights_are_a_clear_error(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is missing"):
        load_model(saved)


def test_pickle_weights_are_refused(saved):
    weights = T5ForConditionalGeneration.from_pretrained(saved).state_dict()
    (saved / "model.safetensors").unlink()
    torch.save(weights, saved / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors only"):
        load_model(saved)


def test_truncated_weights_are_a_clear_error(saved):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="cannot load model weights"):
        load_model(saved)


def test_garbage_weights_are_a_clear_error(saved):
    (saved / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError):
        load_model(saved)


def test_weights_of_another_model_are_a_clear_error(saved):
    from safetensors.torch import save_file

    save_file({"unrelated.weight": torch.zeros(2)}, saved / "model.safetensors")
    with pytest.raises(ModelLoadError, match="do not fit"):
        load_model(saved)
