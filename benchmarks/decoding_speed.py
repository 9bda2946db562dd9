"""Decoding speed: plain greedy vs copy-aware greedy, same model, same inputs, identical outputs.

The byte-T5 copy-aware decoder drafts the next bytes from the input and verifies them in one
decoder pass (textrepair.model.decoding); the causal family uses transformers' prompt-lookup
decoding. Both give exactly the greedy output, which this script asserts before timing counts.
Prompt lookup runs at batch size 1, so for the causal family a third row times what `Repairer`
does with several windows: one left-padded greedy batch of --batch-size (its outputs are counted
against plain greedy's, since padding can flip a near-tie token). Last, the same decoders run on
a bfloat16 copy of the model (`model.dtype: bfloat16`), their outputs counted against float32 plain
greedy's.

Without --model it trains a byte-T5 from scratch for --train-seconds on KJV verses damaged by the
`default` mutation profile, so the model copies most bytes like a real repair model does.

    .venv/bin/python benchmarks/decoding_speed.py [--model PATH] [--train-seconds 240]
        [--size tiny] [--sentences 64] [--batch-size 16] [--threads 1] [--save PATH]

Prints sentences/s and generated tokens/s for both decoders and their ratio, and writes
benchmarks/results/decoding_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

import torch

from _common import RESULTS_DIR, ROOT, print_context, run_context, write_report
from textrepair.config import load_settings
from textrepair.data.corpus import kjv_path
from textrepair.data.mutations import Mutator, row_rng
from textrepair.data.segment import windows
from textrepair.model.families import (
    ModelConfig,
    build_model,
    count_parameters,
    encode,
    load_model,
    save_model,
)
from textrepair.model.repairer import Repairer

RESULTS = RESULTS_DIR / "decoding_speed.json"


def kjv_pairs(max_bytes: int, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(corrupted, clean) windows of KJV verses: the last 1,000 verses are held out."""
    verses = [json.loads(line)["text"] for line in kjv_path().read_text().splitlines() if line]
    profile = load_settings(ROOT / "params.yaml").mutation_profiles["default"]
    mutator = Mutator(profile)
    pairs = []
    for i, verse in enumerate(verses):
        for j, clean in enumerate(windows(verse, max_bytes)):
            rng = row_rng(seed, f"{i}:{j}")
            corrupted = clean if rng.random() < 0.1 else mutator.mutate(clean, rng)[0]
            pairs.append((corrupted, clean))
    split = len(pairs) - 1000
    return pairs[:split], pairs[split:]


def train(config: ModelConfig, pairs: list[tuple[str, str]], seconds: float, seed: int):
    """Plain AdamW loop on the repair task until the time budget runs out."""
    torch.manual_seed(seed)
    model, tokenizer = build_model(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    rng = random.Random(seed)
    model.train()
    start, step, loss = time.perf_counter(), 0, float("nan")
    while time.perf_counter() - start < seconds:
        batch = [encode(config, tokenizer, c, t) for c, t in rng.sample(pairs, 16)]
        width_in = max(len(f["input_ids"]) for f in batch)
        width_out = max(len(f["labels"]) for f in batch)
        ids = torch.tensor([f["input_ids"] + [0] * (width_in - len(f["input_ids"])) for f in batch])
        labels = torch.tensor(
            [f["labels"] + [-100] * (width_out - len(f["labels"])) for f in batch]
        )
        warmup = min(1.0, (step + 1) / 50)
        for group in optimiser.param_groups:
            group["lr"] = 3e-3 * warmup
        out = model(input_ids=ids, attention_mask=(ids != 0).long(), labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        optimiser.zero_grad()
        step, loss = step + 1, out.loss.item()
        if step % 200 == 0:
            print(
                f"  step {step:5d}  loss {loss:.3f}  {time.perf_counter() - start:5.0f}s",
                flush=True,
            )
    print(f"trained {step} steps in {seconds:.0f}s, last loss {loss:.3f}")
    return model.eval(), tokenizer, {"steps": step, "loss": loss}


def timed(repairer: Repairer, texts: list[str]) -> tuple[list[str], float, int]:
    before = repairer.stats["generated_tokens"]
    start = time.perf_counter()
    results = repairer.repair(texts)
    elapsed = time.perf_counter() - start
    return [r.text for r in results], elapsed, repairer.stats["generated_tokens"] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="a saved model directory (skips training)")
    parser.add_argument("--train-seconds", type=float, default=240)
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--train-max-bytes", type=int, default=64)
    parser.add_argument(
        "--window-bytes", type=int, help="Repairer window size (default: the training size, or 192)"
    )
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--draft-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="save the trained model here for --model reuse")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_pairs, test_pairs = kjv_pairs(192, args.seed)
    window_bytes = args.window_bytes or (192 if args.model else args.train_max_bytes)
    if args.model:
        model, tokenizer, config = load_model(args.model)
        model = model.float()  # float32 is the reference; bfloat16 is timed beside it
        training = {"model": str(args.model)}
    else:
        config = ModelConfig(family="byt5", size=args.size, dropout=0.0)
        short = [p for p in train_pairs if len(p[1].encode()) <= args.train_max_bytes]
        model, tokenizer, training = train(config, short, args.train_seconds, args.seed)
        if args.save:
            save_model(model, tokenizer, config, args.save)
    sample = random.Random(args.seed).sample(test_pairs, args.sentences)
    texts, cleans = [c for c, _ in sample], [t for _, t in sample]

    def repairer(copy_aware: bool, batch: int | None = None, weights=model) -> Repairer:
        # The causal prompt-lookup path runs one sentence at a time; so does its baseline.
        batch = batch or (args.batch_size if config.family == "byt5" else 1)
        return Repairer(
            weights,
            tokenizer,
            config.family,
            batch_size=batch,
            copy_aware=copy_aware,
            draft_tokens=args.draft_tokens,
            max_window_bytes=window_bytes,
        )

    repairer(True).repair(texts[:2])  # warm-up
    plain_out, plain_s, tokens = timed(repairer(False), texts)
    fast = repairer(True)
    copy_out, copy_s, copy_tokens = timed(fast, texts)
    assert copy_out == plain_out, "copy-aware decoding changed the output"
    assert copy_tokens == tokens

    exact = sum(out == clean for out, clean in zip(plain_out, cleans, strict=True))
    unchanged = sum(out == text for out, text in zip(plain_out, texts, strict=True))

    def speed_row(seconds: float, out: list[str] | None = None) -> dict:
        row = {
            "seconds": seconds,
            "sentences_per_s": len(texts) / seconds,
            "tokens_per_s": tokens / seconds,
        }
        if out is not None:
            # padding and bfloat16 can flip a near-tie token, so equality is counted, not assumed
            row["outputs_equal_plain"] = sum(a == b for a, b in zip(out, plain_out, strict=True))
        return row

    rows = {"plain_greedy": speed_row(plain_s), "copy_aware": speed_row(copy_s)}
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    # What Repairer does with several windows at once (causal): one left-padded greedy batch.
    modes = [("copy_aware_bf16", bf16, None)]
    if config.family == "causal_lora":
        modes = [
            ("batched_greedy", model, args.batch_size),
            *modes,
            ("batched_greedy_bf16", bf16, args.batch_size),
        ]
    for name, weights, batch in modes:
        out, seconds, _ = timed(repairer(True, batch, weights), texts)
        rows[name] = speed_row(seconds, out)
    result = {
        "family": config.family,
        "size": config.size,
        "parameters": count_parameters(model),
        "training": training,
        "sentences": len(texts),
        "generated_tokens": tokens,
        "window_bytes": window_bytes,
        "windows": fast.stats["windows"],
        "fallback_windows": fast.stats["fallbacks"],
        "decoder_passes": fast.stats.get("passes"),
        "drafted_tokens": fast.stats.get("drafted"),
        "accepted_tokens": fast.stats.get("accepted"),
        "outputs_equal_inputs": unchanged,
        "outputs_equal_clean": exact,
        "speedup": plain_s / copy_s,
        "identical_outputs": True,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "draft_tokens": args.draft_tokens,
        **run_context(),
        **rows,
    }
    print(
        f"\n{config.family} ({config.size}, {count_parameters(model) / 1e6:.2f}M params), "
        f"{len(texts)} sentences, {tokens} generated tokens, outputs identical"
    )
    print(f"{'decoder':<20}{'seconds':>9}{'sent/s':>9}{'tok/s':>9}")
    for name, row in rows.items():
        print(
            f"{name:<20}{row['seconds']:9.2f}{row['sentences_per_s']:9.2f}"
            f"{row['tokens_per_s']:9.1f}"
        )
    print(f"copy-aware / plain speed ratio: {result['speedup']:.2f}x")
    for name, row in rows.items():
        if "outputs_equal_plain" in row:
            print(
                f"{name} / plain speed ratio: {plain_s / row['seconds']:.2f}x, "
                f"{row['outputs_equal_plain']}/{len(texts)} outputs equal to plain greedy"
            )
    print_context(result)
    write_report(RESULTS, result)


if __name__ == "__main__":
    main()
