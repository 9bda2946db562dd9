"""Repairer on tiny random models: bad input never crashes, degenerate output falls back."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from textrepair.model.families import MANIFEST, PAD_ID, save_model
from textrepair.model.repairer import Repairer, apply_edits

BAD_INPUTS = [
    "",
    " ",
    "\n\n\t ",
    "a",
    "Hello, world.",
    "\x00\x01\x02 control \x1b[31m red \x7f",
    "Привет, мир. Γειά σου κόσμε. مرحبا بالعالم. 你好，世界。 こんにちは",
    "👋🏽 family: 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
    "special strings </s> <pad> <unk> <|im_end|>",
    "\ud800 lone surrogate",
    "And it came to pass. " * 40,  # far longer than a window
    "x" * 1000,  # one word far longer than a window
    "line one\r\nline two\u2028line three\n",
]


@pytest.mark.parametrize("copy_aware", [True, False])
@pytest.mark.parametrize("family", ["byt5", "causal_lora"])
def test_bad_input_never_crashes(family, copy_aware, tiny_byt5, tiny_causal):
    model, tokenizer = tiny_byt5 if family == "byt5" else tiny_causal
    repairer = Repairer(model, tokenizer, family, copy_aware=copy_aware, max_window_bytes=64)
    results = repairer.repair(BAD_INPUTS)
    assert len(results) == len(BAD_INPUTS)
    for text, result in zip(BAD_INPUTS, results, strict=True):
        assert isinstance(result.text, str)
        assert apply_edits(text, result.edits) == result.text
        assert result.changed == (result.text != text)
        if not text.strip():
            assert result.text == text  # nothing to repair: passed through
    assert repairer.stats["windows"] > 0


def test_beam_search_works(tiny_byt5):
    model, tokenizer = tiny_byt5
    (result,) = Repairer(model, tokenizer, "byt5", num_beams=2).repair(["hello world"])
    assert isinstance(result.text, str)


class Babbler:
    """A fake byte-T5 that emits fixed ids, for the degenerate-output guard."""

    device = torch.device("cpu")
    config = SimpleNamespace(decoder_start_token_id=PAD_ID)

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def generate(self, input_ids, **_):
        return torch.tensor([[PAD_ID, *self.ids]] * input_ids.shape[0])


@pytest.mark.parametrize(
    "ids",
    [
        [1],  # empty output for non-empty input
        [ord("a") + 3] * 60 + [1],  # far longer than the input
        [ord("a") + 3] * 10,  # never ends: the budget ran out
        [0xFF + 3, 1],  # not UTF-8
    ],
)
def test_degenerate_output_falls_back_to_the_input(ids):
    repairer = Repairer(Babbler(ids), None, "byt5", copy_aware=False)
    (result,) = repairer.repair(["hello"])
    assert result.text == "hello" and result.fallbacks == 1 and not result.changed
    assert repairer.stats["fallbacks"] == 1


def test_plausible_output_is_used_and_edits_describe_it():
    repairer = Repairer(Babbler([*(b + 3 for b in b"hello"), 1]), None, "byt5", copy_aware=False)
    (result,) = repairer.repair(["hxllo"])
    assert result.text == "hello" and result.changed and result.fallbacks == 0
    assert [(e.op, e.start, e.end, e.replacement) for e in result.edits] == [("replace", 1, 2, "e")]


def _says(text: str) -> Babbler:
    return Babbler([*(b + 3 for b in text.encode()), 1])


def test_long_rewrites_are_undone_and_local_fixes_kept():
    damaged = "And Moses gat him ieht otn campamp, hehe and the elder of Israey."
    output = "And Moses went to the camp of the children of Israel, and the elder of Israel."
    repairer = Repairer(_says(output), None, "byt5", copy_aware=False, guard_span_chars=5)
    (result,) = repairer.repair([damaged])
    # The rewrite of the middle is undone; the one-letter fix at the end is kept.
    assert result.text == "And Moses gat him ieht otn campamp, hehe and the elder of Israel."
    assert repairer.stats["undone_changes"] >= 1


def test_changes_a_few_characters_apart_count_as_one():
    output = "abcdefghij"
    damaged = "aXcdYfghij"  # two 1-char changes, 2 apart: one 4-char change
    undone = Repairer(
        _says(output), None, "byt5", guard_span_chars=3, guard_join_chars=2, copy_aware=False
    )
    kept = Repairer(
        _says(output), None, "byt5", guard_span_chars=3, guard_join_chars=1, copy_aware=False
    )
    off = Repairer(_says(output), None, "byt5", guard_span_chars=0, copy_aware=False)
    assert undone.repair([damaged])[0].text == damaged
    assert kept.repair([damaged])[0].text == output
    assert off.repair([damaged])[0].text == output


def test_load_gives_the_same_repairs(tiny_byt5, byt5_config, tmp_path):
    model, tokenizer = tiny_byt5
    save_model(model, tokenizer, byt5_config, tmp_path / "m")
    texts = ["hello world", "a bit longer text. Two sentences."]
    expected = Repairer(model, tokenizer, "byt5").repair(texts)
    assert Repairer.load(tmp_path / "m").repair(texts) == expected


def test_load_cuts_windows_as_long_as_the_manifest_says(tiny_byt5, byt5_config, tmp_path):
    model, tokenizer = tiny_byt5
    path = save_model(model, tokenizer, byt5_config, tmp_path / "m", max_window_bytes=64)
    assert Repairer.load(path).max_window_bytes == 64
    assert Repairer.load(path, max_window_bytes=32).max_window_bytes == 32  # an option still wins


def test_a_manifest_without_the_window_length_means_192(tiny_byt5, byt5_config, tmp_path):
    model, tokenizer = tiny_byt5
    path = save_model(model, tokenizer, byt5_config, tmp_path / "m", max_window_bytes=64)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    del manifest["max_window_bytes"]  # as in the releases saved before it was recorded
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert Repairer.load(path).max_window_bytes == 192


def test_unknown_family_is_refused(tiny_byt5):
    with pytest.raises(ValueError, match="family"):
        Repairer(*tiny_byt5, "gpt")
