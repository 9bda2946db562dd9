"""Two model families behind one interface: build, encode, save and load.

- ``byt5``: a T5 encoder-decoder over UTF-8 bytes (the ByT5 byte vocabulary, no vocab file),
  trained from scratch at one of three CPU sizes, or started from `google/byt5-*` weights.
- ``causal_lora``: a pretrained decoder-only LM (default SmolLM2-135M-Instruct) with a LoRA
  adapter. The damaged text goes into a prompt and the repaired text follows it.

`encode` is the single contract between training and inference: the Trainer and `Repairer` build
their token ids with it, so the two can never disagree about prompts, offsets or end markers.

A saved model is a directory of safetensors weights, the HF config and tokenizer files (a release
of an adapter may leave those to its base) and a ``textrepair_model.json`` manifest. Loading
reads only safetensors and turns every failure into a `ModelLoadError` that names the directory
and the problem.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from pydantic import ValidationError

from textrepair.config import ModelConfig, Size

MANIFEST = "textrepair_model.json"
# Manifest key of a hybrid: a model directory inside this one that repairs this model's output.
SECOND_OPINION_KEY = "second_opinion"
# Manifest key of a hybrid whose first model is an edit model: windows that model tags as clean
# with at least this confidence skip the second model (see `Repairer`).
SECOND_OPINION_GATE_KEY = "second_opinion_gate"
# What a release directory carries besides the model (lifecycle/release.py writes them; adopting
# a release leaves them out of the model).
CARD_FILE, CURVES_FILE, REPORT_FILE = "README.md", "training_curves.png", "evaluation.json"
RELEASE_EXTRAS = (CARD_FILE, CURVES_FILE, REPORT_FILE)
# The window length in UTF-8 bytes of a manifest without `max_window_bytes` (the releases saved
# before it was recorded were all trained on 192).
DEFAULT_WINDOW_BYTES = 192
# What `tokenizer.save_pretrained` may write, whatever the tokenizer class.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)
# ByT5 ids: 0 pad, 1 eos, 2 unk, then byte b is id b + 3.
PAD_ID, EOS_ID, BYTE_OFFSET, BYTE_VOCAB = 0, 1, 3, 384

# Byte-T5 sizes. Encoder deeper than decoder, as in ByT5: the decoder runs once per output byte.
BYT5_PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(d_model=64, d_ff=128, num_heads=4, num_layers=2, num_decoder_layers=2),  # 0.22M
    "small": dict(d_model=192, d_ff=512, num_heads=4, num_layers=6, num_decoder_layers=2),  # 3.9M
    "base": dict(d_model=256, d_ff=1024, num_heads=4, num_layers=7, num_decoder_layers=3),  # 11.5M
}


class ModelLoadError(RuntimeError):
    """A model directory is missing, incomplete, corrupt or holds non-safetensors weights."""


class LoadedModel(NamedTuple):
    model: Any
    tokenizer: Any
    config: ModelConfig


# ---------------------------------------------------------------------------------------- build
def build_model(config: ModelConfig, vocab_texts: Iterable[str] = ()) -> tuple[Any, Any]:
    """A fresh (model, tokenizer) for `config`; seed torch before calling for reproducible init.

    The edit family's tokenizer is a character vocabulary: the characters of `vocab_texts` (its
    training windows) plus the noise alphabet.
    """
    if config.family == "edit":
        return _build_edit(config, vocab_texts)
    if config.family == "byt5":
        return _build_byt5(config)
    return _build_causal(config)


def _build_edit(config: ModelConfig, vocab_texts: Iterable[str]) -> tuple[Any, Any]:
    from textrepair.model.edit import CharVocab, build_encoder

    vocab = CharVocab.from_texts(vocab_texts)
    model = build_encoder(len(vocab), config.size, config.edit.max_gap, config.dropout)
    return model, vocab


def byt5_config(size: Size, dropout: float = 0.1) -> Any:
    from transformers import T5Config

    preset = BYT5_PRESETS[size]
    return T5Config(
        vocab_size=BYTE_VOCAB,
        d_kv=preset["d_model"] // preset["num_heads"],
        feed_forward_proj="gated-gelu",
        dropout_rate=dropout,
        tie_word_embeddings=False,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        decoder_start_token_id=PAD_ID,
        **preset,
    )


def tiny_causal_config() -> Any:
    """A random LLaMA small enough for unit tests, over the ByT5 byte vocabulary."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=BYTE_VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=None,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
        tie_word_embeddings=True,
    )


def _build_byt5(config: ModelConfig) -> tuple[Any, Any]:
    from transformers import ByT5Tokenizer, T5ForConditionalGeneration

    if config.init_from:
        model = _from_pretrained(T5ForConditionalGeneration, config.init_from)
    else:
        model = T5ForConditionalGeneration(byt5_config(config.size, config.dropout))
    _set_generation_ids(model, EOS_ID, PAD_ID)
    return model, ByT5Tokenizer()


def _build_causal(config: ModelConfig) -> tuple[Any, Any]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, ByT5Tokenizer

    base = config.base_model()
    if base is None:
        model, tokenizer = AutoModelForCausalLM.from_config(tiny_causal_config()), ByT5Tokenizer()
    else:
        path = resolve_base(base)
        model = _from_pretrained(AutoModelForCausalLM, path)
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    _set_generation_ids(model, tokenizer.eos_token_id, tokenizer.pad_token_id)
    lora = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=_present_modules(model, config.lora.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def resolve_base(base: str) -> str:
    """A local directory for a causal base: an alias (smollm2, gemma3-270m) is fetched offline.

    Anything else must be an existing directory: a manifest naming a hub id would make the
    loader fetch weights and code chosen by whoever wrote the manifest.
    """
    from textrepair.model.bases import BASES, ensure_base

    if base in BASES:
        return str(ensure_base(base))
    if not Path(base).is_dir():
        known = ", ".join(BASES)
        raise ModelLoadError(f"base {base!r} is neither a known alias ({known}) nor a directory")
    return base


def _present_modules(model: torch.nn.Module, wanted: list[str]) -> list[str]:
    # Architectures name their projections differently; keep the requested ones that exist.
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    present = [m for m in wanted if m in names]
    if not present:
        raise ValueError(f"none of the LoRA target modules {wanted} exist in this model")
    return present


def _set_generation_ids(model: Any, eos_id: int, pad_id: int) -> None:
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    if model.config.is_encoder_decoder:
        model.generation_config.decoder_start_token_id = model.config.decoder_start_token_id


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------------------- encode
def encode(
    config: ModelConfig, tokenizer: Any, corrupted: str, clean: str | None = None
) -> dict[str, list[int]]:
    """Token ids for one window: the model input, plus labels when the clean text is given."""
    if config.family == "byt5":
        return encode_bytes(corrupted, clean)
    return encode_prompt(tokenizer, config.prompt, corrupted, clean)


def encode_bytes(corrupted: str, clean: str | None = None) -> dict[str, list[int]]:
    """byt5: input = bytes(corrupted) + eos, labels = bytes(clean) + eos."""
    features = {"input_ids": byte_ids(corrupted)}
    if clean is not None:
        features["labels"] = byte_ids(clean)
    return features


def encode_prompt(
    tokenizer: Any, prompt: str, corrupted: str, clean: str | None = None
) -> dict[str, list[int]]:
    """causal_lora: input = [bos] prompt(corrupted) [+ clean + eos], labels = -100 over the prompt.

    Prompt and target are tokenized separately, in training and at inference alike. The prompt
    starts with the special tokens the base's tokenizer puts before any text (Gemma's <bos>, none
    for SmolLM2): the base was pretrained with them there.
    """
    prompt_ids = leading_special_ids(tokenizer) + text_ids(
        tokenizer, prompt.format(corrupted=corrupted)
    )
    if clean is None:
        return {"input_ids": prompt_ids}
    target = [*text_ids(tokenizer, clean), tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + target, "labels": [-100] * len(prompt_ids) + target}


def byte_ids(text: str) -> list[int]:
    """ByT5 ids of `text` plus eos. Done by hand: the tokenizer would parse '</s>' in the text."""
    return [b + BYTE_OFFSET for b in utf8(text)] + [EOS_ID]


def decode_bytes(ids: list[int]) -> str | None:
    """Text from generated ByT5 ids (stopping at eos); None if they are not valid UTF-8."""
    data = bytearray()
    for token in ids:
        if token == EOS_ID:
            break
        if BYTE_OFFSET <= token < BYTE_OFFSET + 256:
            data.append(token - BYTE_OFFSET)
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def leading_special_ids(tokenizer: Any) -> list[int]:
    """The ids a tokenizer adds in front of a text when asked for its special tokens."""
    probe = "a"
    plain, full = text_ids(tokenizer, probe), tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start]
    return []


def text_ids(tokenizer: Any, text: str) -> list[int]:
    # split_special_tokens: text that happens to spell '<|im_end|>' stays text.
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def utf8(text: str) -> bytes:
    # surrogatepass: lone surrogates (they occur in decoded junk) round-trip instead of crashing.
    return text.encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------------------------ save/load
def load_adapter_weights(model: Any, path: str | Path) -> None:
    """Warm start: give a fresh LoRA model the adapter weights saved in `path` (same layout)."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    if not hasattr(model, "peft_config"):
        raise ValueError("train.warm_start needs the causal_lora family: it loads a LoRA adapter")
    file = Path(path) / "adapter_model.safetensors"
    if not file.is_file():
        raise ModelLoadError(f"{file} not found: train.warm_start takes a LoRA adapter directory")
    saved, ours = load_file(file), get_peft_model_state_dict(model)
    if saved.keys() != ours.keys() or any(saved[k].shape != ours[k].shape for k in ours):
        raise ModelLoadError(
            f"the adapter in {path} does not fit this model (LoRA rank or target modules differ)"
        )
    set_peft_model_state_dict(model, saved)


def save_model(
    model: Any,
    tokenizer: Any,
    config: ModelConfig,
    path: str | Path,
    *,
    merged: bool | None = None,
    max_window_bytes: int = DEFAULT_WINDOW_BYTES,
) -> Path:
    """Write a model directory (safetensors only).

    A causal_lora model is saved as its LoRA adapter plus the name of its base (compact, needs the
    base at load time), or, with `merged=True` or when the base is a random test model, as one
    merged self-contained checkpoint. `max_window_bytes` is the longest window it was trained on:
    `Repairer` cuts texts into windows of that length.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights, base = "full", None
    if config.family == "edit":
        from textrepair.model.edit import save_weights

        save_weights(model, tokenizer, path)
        _write_manifest(path, config, weights, base, model, max_window_bytes)
        return path
    if config.family == "causal_lora" and hasattr(model, "merge_and_unload"):
        base = config.base_model()
        if merged or base is None:
            model, weights, base = copy.deepcopy(model).merge_and_unload(), "merged", None
        else:
            weights = "adapter"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    _write_manifest(path, config, weights, base, model, max_window_bytes)
    return path


def _write_manifest(
    path: Path, config: ModelConfig, weights: str, base: str | None, model: Any, window: int
) -> None:
    manifest = {
        "format": 1,
        "family": config.family,
        "size": config.size,
        "weights": weights,
        "base": base,
        "parameters": count_parameters(model),
        "max_window_bytes": window,
        "config": config.model_dump(mode="json"),
    }
    write_manifest(path, manifest)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write `manifest` as the model directory's `textrepair_model.json` (see `read_manifest`)."""
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def second_opinion_dir(path: str | Path, manifest: dict[str, Any]) -> Path | None:
    """A hybrid's second model directory (None for a single model): a relative path inside
    `path`, so that copying, logging to MLflow or exporting the directory takes both along."""
    if SECOND_OPINION_KEY not in manifest:
        return None
    name = Path(str(manifest[SECOND_OPINION_KEY]))
    if name.is_absolute() or ".." in name.parts or name == Path("."):
        raise ModelLoadError(
            f"{SECOND_OPINION_KEY} in {Path(path) / MANIFEST} must name a "
            f"directory inside the model directory, not {str(name)!r}"
        )
    return Path(path) / name


def second_opinion_gate(path: str | Path, manifest: dict[str, Any]) -> float | None:
    """A hybrid's gate (None: every window goes to the second model): a probability in (0, 1]."""
    gate = manifest.get(SECOND_OPINION_GATE_KEY)
    if gate is None:
        return None
    if isinstance(gate, bool) or not isinstance(gate, int | float) or not 0 < gate <= 1:
        raise ModelLoadError(
            f"{SECOND_OPINION_GATE_KEY} in {Path(path) / MANIFEST} must be a probability in "
            f"(0, 1], not {gate!r}"
        )
    if manifest.get("family") != "edit" or SECOND_OPINION_KEY not in manifest:
        raise ModelLoadError(
            f"{SECOND_OPINION_GATE_KEY} in {Path(path) / MANIFEST} needs an edit model with a "
            f"{SECOND_OPINION_KEY}"
        )
    return float(gate)


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"model directory {path} does not exist")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        ModelConfig.model_validate(manifest["config"])
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{path} is not a textrepair model: {MANIFEST} is missing") from exc
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ModelLoadError(f"{path / MANIFEST} is unreadable: {exc}") from exc
    return manifest


def window_bytes(manifest: dict[str, Any]) -> int:
    """The window length a model was trained on, from its manifest (`read_manifest`)."""
    return int(manifest.get("max_window_bytes", DEFAULT_WINDOW_BYTES))


def load_model(path: str | Path) -> LoadedModel:
    """Load a directory written by `save_model`, in eval mode; only safetensors are read."""
    from transformers import AutoModelForCausalLM, T5ForConditionalGeneration

    path = Path(path)
    manifest = read_manifest(path)
    config = ModelConfig.model_validate(manifest["config"])
    if config.family == "edit":
        return _load_edit(path, config)
    weights = "adapter_model" if manifest["weights"] == "adapter" else "model"
    _require_safetensors(path, weights)
    tokenizer = _load_tokenizer(path, manifest)
    if config.family == "byt5":
        model = _from_pretrained(T5ForConditionalGeneration, path)
    elif manifest["weights"] == "adapter":
        model = _load_adapter(path, resolve_base(manifest["base"]))
    else:
        model = _from_pretrained(AutoModelForCausalLM, path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model.eval().to(inference_dtype(config.dtype)), tokenizer, config)


def _load_edit(path: Path, config: ModelConfig) -> LoadedModel:
    from textrepair.model.edit import load_weights

    _require_safetensors(path, "model")
    try:
        model, vocab = load_weights(path, config.size, config.edit.max_gap)
    except Exception as exc:  # a missing vocab, bad JSON, corrupt or mismatched tensors
        raise ModelLoadError(f"cannot load the edit model in {path}: {exc}") from exc
    return LoadedModel(model.to(inference_dtype(config.dtype)), vocab, config)


def merge_adapter(path: str | Path) -> None:
    """Make an adapter directory stand alone: its base with the adapter merged in, in float32."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest["weights"] != "adapter":
        return
    _require_safetensors(path, "adapter_model")
    tokenizer = _load_tokenizer(path, manifest)
    model = _load_adapter(path, resolve_base(manifest["base"]))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        (path / name).unlink()
    manifest.pop("tokenizer", None)
    manifest.update(weights="merged", base=None, parameters=count_parameters(model))
    write_manifest(path, manifest)


def _load_tokenizer(path: Path, manifest: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    # A release of an adapter may leave the tokenizer to its base (see release.py).
    source = resolve_base(manifest["base"]) if manifest.get("tokenizer") == "base" else path
    try:
        return AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the tokenizer in {source}: {exc}") from exc


def inference_dtype(setting: str) -> torch.dtype:
    """The torch dtype for a `model.dtype` setting; `auto` asks the hardware."""
    if setting == "auto":
        return torch.bfloat16 if _fast_bfloat16() else torch.float32
    return getattr(torch, setting)


def _fast_bfloat16() -> bool:
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    # Without these instructions bfloat16 matmuls are emulated, slower than float32. The checks
    # are torch's own (private, hence getattr).
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _require_safetensors(path: Path, stem: str) -> None:
    if (path / f"{stem}.safetensors").is_file() or (
        path / f"{stem}.safetensors.index.json"
    ).is_file():
        return
    pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
    if pickles:
        raise ModelLoadError(
            f"{path} holds only pickle weights ({', '.join(pickles)}); "
            "textrepair loads safetensors only"
        )
    raise ModelLoadError(f"{path} has no weights: {stem}.safetensors is missing")


def _from_pretrained(cls: Any, path: str | Path) -> Any:
    """`cls.from_pretrained` from safetensors only; missing or mismatched tensors are an error."""
    try:
        model, info = cls.from_pretrained(
            str(path), use_safetensors=True, output_loading_info=True, dtype=torch.float32
        )
    except Exception as exc:  # safetensors, OSError, JSON errors...: all mean "cannot load"
        raise ModelLoadError(f"cannot load model weights from {path}: {exc}") from exc
    broken = {k: v for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if broken:
        raise ModelLoadError(f"weights in {path} do not fit the model: {broken}")
    return model


def _load_adapter(path: Path, base: str) -> Any:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = _from_pretrained(AutoModelForCausalLM, base)
    try:
        model = PeftModel.from_pretrained(model, str(path), use_safetensors=True)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the LoRA adapter in {path}: {exc}") from exc
    return model.merge_and_unload()  # one plain model: faster inference, same outputs
