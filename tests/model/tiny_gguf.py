"""Write a tiny LLaMA GGUF file (Q4_1 weights, byte-level BPE tokenizer) for offline tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 32, 64, 2, 4, 2
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_level_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for _, c in sorted(zip(keep, chars, strict=True))]


def write_tiny_gguf(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the file; return the float tensors as written before quantization (HF names)."""
    import gguf
    from gguf.quants import quantize

    rng = np.random.default_rng(seed)
    tokens = [*SPECIALS, *byte_level_alphabet(), "Ġt", "he", "Ġthe"]
    merges = ["Ġ t", "h e", "Ġt he"]
    vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(256)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIALS) + [1] * (vocab - len(SPECIALS)))
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)

    written: dict[str, np.ndarray] = {}

    def add(name: str, hf_name: str, shape: tuple[int, ...], quantized: bool) -> None:
        data = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        if quantized:
            q = quantize(data, gguf.GGMLQuantizationType.Q4_1)
            writer.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q4_1)
        else:
            writer.add_tensor(name, data)
        written[hf_name] = data

    add("token_embd.weight", "model.embed_tokens.weight", (vocab, HIDDEN), True)
    add("output_norm.weight", "model.norm.weight", (HIDDEN,), False)
    for i in range(LAYERS):
        hf = f"model.layers.{i}"
        add(f"blk.{i}.attn_norm.weight", f"{hf}.input_layernorm.weight", (HIDDEN,), False)
        add(f"blk.{i}.ffn_norm.weight", f"{hf}.post_attention_layernorm.weight", (HIDDEN,), False)
        kv = HIDDEN // HEADS * KV_HEADS
        add(f"blk.{i}.attn_q.weight", f"{hf}.self_attn.q_proj.weight", (HIDDEN, HIDDEN), True)
        add(f"blk.{i}.attn_k.weight", f"{hf}.self_attn.k_proj.weight", (kv, HIDDEN), True)
        add(f"blk.{i}.attn_v.weight", f"{hf}.self_attn.v_proj.weight", (kv, HIDDEN), True)
        add(f"blk.{i}.attn_output.weight", f"{hf}.self_attn.o_proj.weight", (HIDDEN, HIDDEN), True)
        add(f"blk.{i}.ffn_gate.weight", f"{hf}.mlp.gate_proj.weight", (FFN, HIDDEN), True)
        add(f"blk.{i}.ffn_up.weight", f"{hf}.mlp.up_proj.weight", (FFN, HIDDEN), True)
        add(f"blk.{i}.ffn_down.weight", f"{hf}.mlp.down_proj.weight", (HIDDEN, FFN), True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return written
