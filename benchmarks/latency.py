"""Single-sentence latency through `Repairer`, where the time goes, and the floors below it.

Targets, p50 in-process at 2 threads for a 100-character sentence: <= 30 ms for the `edit`
family (issue 19), <= 150 ms for the generative families (issue 4). This repairs held-out KJV
windows of 90-110 characters one at a time (damaged by the `default` profile, then the same
windows clean), --repeats times each, times each call and counts the model's forward passes.

For the `edit` family a pass is one encoder forward: one to tag, then one per fill round that
still has masks, so the pass count depends on how many masks the tags make (a random-init model
makes many). The table gives the tag pass alone (the floor: no repair can skip it) and the masks
per sentence.

For the generative families it also times two floors for the same sentences:

- copy floor: what the best possible input-copying drafter would need. One pass reads the prompt
  with the whole input drafted; the draft is rejected at every place where the final output
  differs from the input, so each change site costs at least one more pass, timed here as the
  cheapest kind: one token over the cached prompt. (Sites are the changes as the guard joins
  them, counted on the final output, which has fewer than what the model writes: a generous
  floor.)
- oracle floor: one pass over the prompt and the final output, as if the decoder knew the answer
  and only had to verify it. No decoder of this model can be faster on this machine.

    .venv/bin/python benchmarks/latency.py --model models/textrepair-smollm2-lora
        [--sentences 30] [--repeats 3] [--threads 2] [--seed 0]
    make bench-latency MODEL=artifacts/edit-train/model

Writes benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from _common import RESULTS_DIR, print_context, run_context, write_report
from decoding_speed import kjv_pairs
from textrepair.model.families import encode_prompt
from textrepair.model.repairer import Repairer, changed_spans

RESULTS = RESULTS_DIR / "latency.json"
TARGET_MS = {"edit": 30, "causal_lora": 150, "byt5": 150}


def main() -> None:
    args = _parse()
    torch.set_num_threads(args.threads)
    repairer = Repairer.load(args.model)
    passes = _count_passes(repairer.model)
    masks = _count_masks(repairer)
    damaged, clean = _sentences(args.sentences, args.seed)
    repairer.repair(["Warm up the model once, as a server does."])
    report: dict[str, Any] = {
        "model": str(args.model),
        "family": repairer.family,
        "weights_dtype": str(_dtype(repairer.model)).removeprefix("torch."),
        "sentences": len(damaged),
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "target_p50_ms": TARGET_MS[repairer.family],
        **run_context(),
    }
    for name, texts in (("damaged", damaged), ("clean", clean)):
        report[name] = _measure(repairer, texts, passes, masks, args.repeats)
    _print(report)
    write_report(RESULTS, report)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved model directory")
    parser.add_argument("--sentences", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per sentence")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def _sentences(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Held-out (damaged, clean) windows of 90-110 characters whose damaged copy differs."""
    _, held_out = kjv_pairs(192, seed)
    pairs = [(c, t) for c, t in held_out if c != t and 90 <= len(c) <= 110]
    sample = random.Random(seed).sample(pairs, min(count, len(pairs)))
    return [c for c, _ in sample], [t for _, t in sample]


def _dtype(model: Any) -> torch.dtype:
    return next(model.parameters()).dtype


def _count_passes(model: Any) -> list[float]:
    """Wraps the model's forward: the returned list gets the seconds of every pass."""
    log: list[float] = []
    forward: Callable[..., Any] = model.forward

    def timed_forward(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = forward(*args, **kwargs)
        log.append(time.perf_counter() - start)
        return out

    model.forward = timed_forward
    return log


def _count_masks(repairer: Repairer) -> list[int]:
    """For the edit family, wraps the tagging pass: the list gets the mask slots of each call."""
    log: list[int] = []
    if repairer.family != "edit":
        return log
    decoder = repairer._edit_decoder
    tag = decoder.tag

    def counted_tag(windows: Any) -> Any:
        slots = tag(windows)
        log.append(sum(c is None for row in slots for c in row))
        return slots

    decoder.tag = counted_tag
    return log


def _measure(
    repairer: Repairer, texts: list[str], passes: list[float], masks: list[int], repeats: int
) -> dict[str, Any]:
    seconds, counts, first, later, sites, outputs, mask_counts = [], [], [], [], [], [], []
    for text in texts:
        for _ in range(repeats):
            passes.clear()
            masks.clear()
            start = time.perf_counter()
            output = repairer.repair([text])[0].text
            seconds.append(time.perf_counter() - start)
            counts.append(len(passes))
            first += passes[:1]
            later += passes[1:]
            mask_counts.append(sum(masks))
        sites.append(len(changed_spans(text, output, repairer.guard_join_chars)))
        outputs.append(output)
    row = {
        "p50_ms": _ms(statistics.median(seconds)),
        "p95_ms": _ms(_quantile(seconds, 0.95)),
        "passes_p50": statistics.median(counts),
        "first_pass_ms": _ms(statistics.median(first)) if first else None,
        "later_pass_ms": _ms(statistics.median(later)) if later else None,
        "change_sites_p50": statistics.median(sites),
    }
    if repairer.family == "edit":
        row["masks_p50"] = statistics.median(mask_counts)
        row["passes_max"] = max(counts)
    if repairer.family == "causal_lora":
        copy_floor, oracle_floor, steps = [], [], []
        for text, output, n_sites in zip(texts, outputs, sites, strict=True):
            read, step = _passes_over(repairer, text, text)
            copy_floor.append(read + n_sites * step)
            oracle_floor.append(_passes_over(repairer, text, output)[0])
            steps.append(step)
        row["one_token_step_ms"] = _ms(statistics.median(steps))
        row["copy_floor_p50_ms"] = _ms(statistics.median(copy_floor))
        row["oracle_floor_p50_ms"] = _ms(statistics.median(oracle_floor))
    return row


@torch.no_grad()
def _passes_over(repairer: Repairer, text: str, answer: str) -> tuple[float, float]:
    """Seconds of one uncached pass over the prompt for `text` followed by `answer`, and of one
    more token over the cache that pass left."""
    ids = encode_prompt(repairer.tokenizer, repairer.prompt, text, answer)["input_ids"]
    start = time.perf_counter()
    out = repairer.model(input_ids=torch.tensor([ids], device=repairer.device), use_cache=True)
    read = time.perf_counter() - start
    next_token = out.logits[:, -1:].argmax(-1)
    start = time.perf_counter()
    repairer.model(input_ids=next_token, past_key_values=out.past_key_values, use_cache=True)
    return read, time.perf_counter() - start


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _print(report: dict[str, Any]) -> None:
    target = report["target_p50_ms"]
    print(
        f"\n{report['model']} ({report['family']}, {report['weights_dtype']} weights): "
        f"{report['sentences']} sentences of 90-110 characters x {report['repeats']}, "
        f"one at a time, {report['threads']} threads; target p50 <= {target} ms"
    )
    print_context(report)
    edit = report["family"] == "edit"
    if edit:
        header = ("", "p50 ms", "p95 ms", "passes", "max passes", "tag pass ms", "fill pass ms")
        header += ("masks", "sites")
        keys = ("p50_ms", "p95_ms", "passes_p50", "passes_max", "first_pass_ms", "later_pass_ms")
        keys += ("masks_p50", "change_sites_p50")
    else:
        header = ("", "p50 ms", "p95 ms", "passes", "ms/pass", "1-token ms", "sites")
        header += ("copy floor", "oracle floor")
        keys = ("p50_ms", "p95_ms", "passes_p50", "later_pass_ms", "one_token_step_ms")
        keys += ("change_sites_p50", "copy_floor_p50_ms", "oracle_floor_p50_ms")
    print("".join(f"{h:>13}" for h in header))
    for name in ("damaged", "clean"):
        row = report[name]
        print("".join(f"{c:>13}" for c in [name, *(_cell(row.get(k)) for k in keys)]))
    damaged = report["damaged"]
    print(f"damaged p50 / target: {damaged['p50_ms'] / target:.2f}x", end="")
    if "copy_floor_p50_ms" in damaged:
        print(f"; copy floor / target: {damaged['copy_floor_p50_ms'] / target:.1f}x", end="")
    print()


def _cell(value: Any) -> Any:
    return "-" if value is None else value


if __name__ == "__main__":
    main()
