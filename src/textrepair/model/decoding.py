"""Copy-aware greedy decoding for the encoder-decoder: speculative decoding drafting the input.

A repaired window is almost its input, so the next output bytes are usually the input bytes that
follow the spot the output has reached. Each step proposes up to k of them per row (`CopyDrafter`),
runs ONE decoder pass over the pending tokens plus the draft, and keeps the longest draft prefix
that equals the model's own argmax, plus the model's next token. Every kept token is the greedy
choice given its prefix, so the output is exactly plain greedy decoding, in far fewer passes.

transformers' `prompt_lookup_num_tokens` cannot do this for T5: it searches the decoder's own
output (for an encoder-decoder the "prompt" is the decoder prefix, not the encoder input) and runs
only at batch size 1. This loop drafts from the encoder input and works on whole batches.

Rows in a batch accept different numbers of tokens. The decoder cache keeps the common prefix of
all rows (cropped to the shortest); each row re-feeds its committed tokens beyond that prefix, right
padded. Causal masking keeps padding invisible to real positions, and finished rows leave the batch.
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
    start = model.config.decoder_start_token_id
    pad = model.config.pad_token_id or 0
    encoder = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    hidden, mask = encoder.last_hidden_state, attention_mask
    rows = input_ids.shape[0]
    sources = [row[m.bool()].tolist() for row, m in zip(input_ids, attention_mask, strict=True)]
    drafters = [CopyDrafter(s, max_ngram) for s in sources]
    seqs = [[start] for _ in range(rows)]
    active = list(range(rows))
    lengths = [draft_tokens] * rows
    cache, cached = None, 0  # decoder positions held in the cache, the same for every active row
    stats = {"passes": 0, "drafted": 0, "accepted": 0}
    while active:
        drafts = [
            drafters[i].propose(seqs[i][1:], min(lengths[i], max_new_tokens - len(seqs[i])))
            for i in active
        ]
        feeds = [seqs[i][cached:] + d for i, d in zip(active, drafts, strict=True)]
        width = max(map(len, feeds))
        feed = torch.tensor([f + [pad] * (width - len(f)) for f in feeds], device=input_ids.device)
        out = model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=mask,
            decoder_input_ids=feed,
            past_key_values=cache,
            use_cache=True,
            cache_position=torch.arange(cached, cached + width, device=input_ids.device),
        )
        cache = out.past_key_values
        best = out.logits.argmax(-1).tolist()
        stats["passes"] += 1
        keep, valid = [], []
        for j, (i, draft) in enumerate(zip(active, drafts, strict=True)):
            at = len(seqs[i]) - 1 - cached  # feed index whose logits predict the next token
            accepted = 0
            while accepted < len(draft) and best[j][at + accepted] == draft[accepted]:
                accepted += 1
            new = [*draft[:accepted], best[j][at + accepted]]
            stats["drafted"] += len(draft)
            stats["accepted"] += accepted
            # Adaptive draft length: grow while drafts are kept, shrink when the model diverges.
            full = accepted == len(draft)
            lengths[i] = min(draft_tokens, 2 * lengths[i]) if full else max(1, accepted + 1)
            drafters[i].advance(len(new))
            if eos in new:
                new = new[: new.index(eos) + 1]
            seqs[i].extend(new[: max_new_tokens + 1 - len(seqs[i])])
            if seqs[i][-1] != eos and len(seqs[i]) <= max_new_tokens:
                keep.append(j)
                valid.append(len(seqs[i]) - 1)  # all but the newest token are in the cache
        if len(keep) < len(active):
            if not keep:
                break
            index = torch.tensor(keep, device=input_ids.device)
            cache.batch_select_indices(index)
            hidden, mask = hidden[index], mask[index]
            active = [active[j] for j in keep]
        new_cached = min(valid)
        cache.crop(new_cached - cache.get_seq_length())
        cached = new_cached
    return [s[1:] for s in seqs], stats
