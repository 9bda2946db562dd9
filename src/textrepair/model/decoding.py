"""Copy-aware greedy decoding for the encoder-decoder: speculative decoding drafting the input.

A repaired window is almost its input, so the next output bytes are usually the input bytes that
follow the spot the output has reached. Each step proposes up to k of them per row (`CopyDrafter`),
runs ONE decoder pass over the last token plus the draft, and keeps the longest draft prefix that
equals the model's own argmax, plus the model's next token. Every kept token is the greedy choice
given its prefix, so the output is plain greedy decoding's, in fewer passes when the model copies.

transformers' `prompt_lookup_num_tokens` cannot do this for T5: it searches the decoder's own
output (for an encoder-decoder the "prompt" is the decoder prefix, not the encoder input) and runs
only at batch size 1. This loop drafts from the encoder input and works on whole batches.

Rows in a batch accept different numbers of tokens. After each pass the self-attention cache is
re-packed (`_realign`): rejected draft positions are dropped and every row's entries are
right-aligned, with masked left padding. T5 only uses relative positions, so each row sees exactly
what it would see decoded alone. Finished rows leave the batch. (The re-packing writes the cache
layers' `keys`/`values` tensors, transformers 5's DynamicLayer attributes.)
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutput


class CopyDrafter:
    """Proposes continuations copied from one row's source tokens.

    The draft follows an occurrence in the source of the output's last n tokens (n from
    `max_ngram` down to 2), the one nearest to where the output is expected to be, so repeated
    words do not send the copy back to the wrong place. With no such match (the model has just
    written something new, e.g. a substituted byte), it copies from that expected position.
    """

    def __init__(self, source: list[int], max_ngram: int = 4) -> None:
        self.source = source
        self.max_ngram = max_ngram
        self.cursor = 0  # where in the source the output is expected to continue
        self.index: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for n in range(1, max_ngram + 1):
            for end in range(n, len(source) + 1):
                self.index[tuple(source[end - n : end])].append(end)  # ends are sorted

    def propose(self, output: list[int], k: int) -> list[int]:
        if k <= 0:
            return []
        for n in range(min(self.max_ngram, len(output)), min(2, len(output)) - 1, -1):
            ends = self.index.get(tuple(output[-n:]))
            if ends:
                self.cursor = _nearest(ends, self.cursor)
                break
        return self.source[self.cursor : self.cursor + k]

    def advance(self, tokens: int) -> None:
        """The output grew by `tokens`: move the expected position along with it."""
        self.cursor = min(self.cursor + tokens, len(self.source))


def _nearest(sorted_values: list[int], target: int) -> int:
    i = bisect.bisect_left(sorted_values, target)
    candidates = sorted_values[max(0, i - 1) : i + 1]
    return min(candidates, key=lambda v: (abs(v - target), -v))  # ties: read forward


@torch.no_grad()
def copy_greedy(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    *,
    draft_tokens: int = 16,
    max_ngram: int = 4,
) -> tuple[list[list[int]], dict[str, int]]:
    """Greedy decoding of a T5-style model with input-copy drafts.

    Returns, per row, the generated ids after the decoder start token (ending with eos unless
    `max_new_tokens` ran out), identical to `model.generate(do_sample=False)`, and counters
    (`passes`, `drafted`, `accepted`).
    """
    eos = model.generation_config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    device = input_ids.device
    hidden = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    hidden, encoder_mask = hidden.last_hidden_state, attention_mask
    rows = input_ids.shape[0]
    sources = [row[m.bool()].tolist() for row, m in zip(input_ids, attention_mask, strict=True)]
    drafters = [CopyDrafter(s, max_ngram) for s in sources]
    seqs = [[model.config.decoder_start_token_id] for _ in range(rows)]
    lengths = [draft_tokens] * rows  # adaptive draft length per row
    active = list(range(rows))
    cache, cached = None, [0] * rows  # cached[j]: decoder positions of active row j in the cache
    stats = {"passes": 0, "drafted": 0, "accepted": 0}
    while active:
        drafts = [
            drafters[i].propose(seqs[i][1:], min(lengths[i], max_new_tokens - len(seqs[i])))
            for i in active
        ]
        feeds = [[seqs[i][-1], *draft] for i, draft in zip(active, drafts, strict=True)]
        past = cache.get_seq_length() if cache is not None else 0
        cache, best = _decoder_pass(model, hidden, encoder_mask, feeds, cache, past, cached)
        stats["passes"] += 1
        keep, grown = [], []
        for j, (i, draft) in enumerate(zip(active, drafts, strict=True)):
            accepted = _accepted(draft, best[j])
            new = [*draft[:accepted], best[j][accepted]]
            stats["drafted"] += len(draft)
            stats["accepted"] += accepted
            # Grow the draft while it is kept, shrink it where the model diverges from the input.
            full = accepted == len(draft)
            lengths[i] = min(draft_tokens, 2 * lengths[i]) if full else max(1, accepted + 1)
            drafters[i].advance(len(new))
            if eos in new:
                new = new[: new.index(eos) + 1]
            seqs[i].extend(new[: max_new_tokens + 1 - len(seqs[i])])
            if seqs[i][-1] != eos and len(seqs[i]) <= max_new_tokens:
                keep.append(j)
                grown.append(1 + accepted)  # cached now: the fed token and the kept drafts
        if not keep:
            break
        if len(keep) < len(active):  # finished rows leave the batch
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            hidden, encoder_mask = hidden[index], encoder_mask[index]
            active, cached = [active[j] for j in keep], [cached[j] for j in keep]
        cached = _realign(cache.self_attention_cache, past, cached, grown)
    return [s[1:] for s in seqs], stats


def _decoder_pass(
    model: Any,
    hidden: torch.Tensor,
    encoder_mask: torch.Tensor,
    feeds: list[list[int]],
    cache: Any,
    past: int,
    cached: list[int],
) -> tuple[Any, list[list[int]]]:
    """One decoder pass over each row's pending token and draft: the cache and the argmaxes."""
    pad = model.config.pad_token_id or 0
    width = max(map(len, feeds))
    feed = torch.tensor([f + [pad] * (width - len(f)) for f in feeds], device=hidden.device)
    # Each row's cache is right-aligned at `past`, left padding masked: relative positions,
    # all T5 uses, are then exactly those of the row decoded alone.
    decoder_mask = torch.tensor(
        [[0] * (past - n) + [1] * (n + width) for n in cached], device=hidden.device
    )
    out = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
        attention_mask=encoder_mask,
        decoder_input_ids=feed,
        decoder_attention_mask=decoder_mask,
        past_key_values=cache,
        use_cache=True,
    )
    return out.past_key_values, out.logits.argmax(-1).tolist()


def _accepted(draft: list[int], best: list[int]) -> int:
    """How many leading draft tokens equal the model's own choices."""
    accepted = 0
    while accepted < len(draft) and best[accepted] == draft[accepted]:
        accepted += 1
    return accepted


def _realign(cache: Any, past: int, cached: list[int], grown: list[int]) -> list[int]:
    """Drop rejected draft positions and right-align every row's entries again.

    Row j held `cached[j]` entries ending at `past`; its next `grown[j]` entries were kept.
    """
    total = [n + g for n, g in zip(cached, grown, strict=True)]
    length = max(total)
    offsets = torch.arange(length).unsqueeze(0)  # (1, length)
    first = torch.tensor([past - n for n in cached]).unsqueeze(1)  # where row j's entries start
    shift = torch.tensor([length - t for t in total]).unsqueeze(1)  # left padding after
    index = (first + offsets - shift).clamp(min=0)  # padding slots read slot 0: masked anyway
    for layer in cache.layers:
        gather = index.to(layer.keys.device)[:, None, :, None].expand(
            -1, layer.keys.shape[1], -1, layer.keys.shape[3]
        )
        layer.keys = layer.keys.gather(2, gather)
        layer.values = layer.values.gather(2, gather)
    return total
