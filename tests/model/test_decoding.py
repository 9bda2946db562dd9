"""Copy-aware decoding gives exactly the plain greedy output, in fewer decoder passes."""

from __future__ import annotations

import random

import pytest
import torch
from tiny_models import sentence, train_to_copy

from textrepair.model.decoding import CopyDrafter, copy_greedy
from textrepair.model.families import EOS_ID, PAD_ID, byte_ids
from textrepair.model.repairer import Repairer


def _batch(texts):
    rows = [byte_ids(t) for t in texts]
    width = max(map(len, rows))
    ids = torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows])
    return ids, (ids != PAD_ID).long()


def _plain(model, ids, mask, budget):
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=budget, do_sample=False)
    rows = [row[1:].tolist() for row in out]
    return [r[: r.index(EOS_ID) + 1] if EOS_ID in r else r for r in rows]


def _texts(seed=3, n=12):
    rng = random.Random(seed)
    damaged = [sentence(rng).replace("e", "3", 1) for _ in range(n)]
    return [*damaged, "héllo wörld 👋", "x", "the lord said unto moses " * 3]


@pytest.mark.parametrize("budget", [8, 40, 120])
def test_copy_greedy_equals_plain_greedy_on_a_batch(copying_byt5, budget):
    model, _ = copying_byt5
    ids, mask = _batch(_texts())
    copied, stats = copy_greedy(model, ids, mask, budget, draft_tokens=8)
    assert copied == _plain(model, ids, mask, budget)
    assert stats["accepted"] > 0  # drafts were really used, not only rejected


def test_copy_greedy_equals_plain_greedy_for_a_random_model(tiny_byt5):
    model, _ = tiny_byt5
    ids, mask = _batch(_texts(seed=5))
    assert copy_greedy(model, ids, mask, 50)[0] == _plain(model, ids, mask, 50)


@pytest.mark.slow
def test_repairer_outputs_do_not_depend_on_copy_awareness(copying_byt5):
    model, tokenizer = copying_byt5
    texts = [*_texts(seed=11), "An evil and adulterous generation seeketh after a sign. " * 5]
    fast = Repairer(model, tokenizer, "byt5", copy_aware=True, batch_size=5).repair(texts)
    slow = Repairer(model, tokenizer, "byt5", copy_aware=False, batch_size=5).repair(texts)
    assert fast == slow


def test_drafter_follows_the_nearest_occurrence_of_the_last_ngram():
    drafter = CopyDrafter(list(b"abcXabcYabcZ"), max_ngram=2)
    assert drafter.propose([], 3) == list(b"abc")
    drafter.advance(4)  # three drafted tokens accepted, plus the model's own 'X'
    assert drafter.propose(list(b"abcX"), 2) == list(b"ab")
    drafter.advance(3)
    assert drafter.propose(list(b"abcXabc"), 2) == list(b"Ya")  # not back to the first 'abc'
    assert drafter.propose(list(b"abc"), 0) == []


def test_drafter_copies_from_the_expected_position_after_a_fix():
    drafter = CopyDrafter(list(b"h3llo"))
    assert drafter.propose([], 5) == list(b"h3llo")
    drafter.advance(2)  # 'h' accepted, the model wrote 'e' instead of '3'
    assert drafter.propose(list(b"he"), 5) == list(b"llo")


@pytest.mark.slow
def test_causal_prompt_lookup_equals_plain_greedy(causal_config):
    torch.manual_seed(2)
    from textrepair.model.families import build_model

    model, tokenizer = build_model(causal_config)
    model = train_to_copy(model, tokenizer, causal_config, steps=40).merge_and_unload()
    texts = _texts(seed=13, n=4)
    fast = Repairer(model, tokenizer, "causal_lora", copy_aware=True, batch_size=1)
    slow = Repairer(model, tokenizer, "causal_lora", copy_aware=False, batch_size=1)
    fast_results, slow_results = fast.repair(texts), slow.repair(texts)
    assert fast_results == slow_results
    assert fast.stats == slow.stats


@pytest.mark.slow
def test_causal_uses_prompt_lookup_only_for_a_lone_window(causal_config):
    torch.manual_seed(2)
    from textrepair.model.families import build_model

    model, tokenizer = build_model(causal_config)
    model = train_to_copy(model, tokenizer, causal_config, steps=40).merge_and_unload()
    calls: list[tuple[int, int | None]] = []
    generate = model.generate

    def spy(**kwargs):
        calls.append((kwargs["input_ids"].shape[0], kwargs.get("prompt_lookup_num_tokens")))
        return generate(**kwargs)

    model.generate = spy
    texts = _texts(seed=13, n=4)
    batched = Repairer(model, tokenizer, "causal_lora", copy_aware=True, batch_size=16)
    batched_results = batched.repair(texts)
    single = Repairer(model, tokenizer, "causal_lora", copy_aware=True, batch_size=1)
    single_results = single.repair(texts)
    windows = batched.stats["windows"]
    assert calls[0] == (windows, None)  # one greedy batch, no prompt lookup
    assert calls[1:] == [(1, 16)] * windows  # then one window at a time, with prompt lookup
    assert [r.text for r in batched_results] == [r.text for r in single_results]
