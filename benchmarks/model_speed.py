"""Batched throughput of the model families through `Repairer`, side by side in one run.

Issue 19's target: >= 100 windows/s for the edit family (batched, 2 cores). Each model repairs
the same held-out KJV windows (verses cut at 192 bytes, damaged by the `default` profile, about
10% left clean, as `decoding_speed.kjv_pairs` makes them) in one `Repairer.repair` call, which
sorts them by length and runs batches of --batch-size; each model is loaded as it is served
(`Repairer.load`, weights' dtype from its manifest), warmed up, then timed --trials times.
The generative release is slow (a fraction of a second per window), so it and a hybrid with
it (`textrepair hybrid`) get the first --slow-windows of the same windows.

    .venv/bin/python benchmarks/model_speed.py --model edit=artifacts/edit-train/model
        --model smollm2=models/textrepair-smollm2-lora [--model hybrid=models/textrepair-hybrid]
        [--windows 512] [--slow-windows 32]
        [--batch-size 16 64] [--threads 2] [--trials 2]
    make bench-models EDIT=artifacts/edit-train/model

A --model value `edit=random` builds a random-init `small` edit model (same speed per pass; it
runs more fill rounds). Writes benchmarks/results/model_speed.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from _common import RESULTS_DIR, print_context, run_context, write_report
from decoding_speed import kjv_pairs
from edit_models import random_edit_model
from textrepair.model.repairer import Repairer

RESULTS = RESULTS_DIR / "model_speed.json"
TARGET = {"edit": 100.0}  # windows/s


def main() -> None:
    args = _parse()
    torch.set_num_threads(args.threads)
    _, held_out = kjv_pairs(192, args.seed)
    windows = [corrupted for corrupted, _ in held_out][: args.windows]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        for name, path in args.model:
            if path == "random":
                path = str(random_edit_model(Path(tmp) / "random-edit-small"))
                name = f"{name} (random init)"
            start = time.perf_counter()
            probe = Repairer.load(path)
            load_seconds = time.perf_counter() - start
            family = probe.family
            if probe.second_opinion is not None:  # a hybrid runs at its second model's pace
                family = f"{family}+{probe.second_opinion.family}"
            count = args.windows if family == "edit" else args.slow_windows
            for batch_size in args.batch_size if family == "edit" else args.batch_size[:1]:
                repairer = Repairer.load(path, batch_size=batch_size)
                row = _measure(repairer, windows[:count], args.trials)
                rows.append(
                    {
                        "name": name,
                        "path": path,
                        "family": family,
                        "weights_dtype": str(next(repairer.model.parameters()).dtype)[6:],
                        "batch_size": batch_size,
                        "load_seconds": round(load_seconds, 1),
                        **row,
                    }
                )
                print(_line(rows[-1]), flush=True)
            del probe
    report = {
        "windows_chars_mean": round(statistics.mean(map(len, windows)), 1),
        "threads": torch.get_num_threads(),
        "rows": rows,
        **run_context(),
    }
    _print(report)
    write_report(RESULTS, report)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        type=lambda v: tuple(v.split("=", 1)),
        required=True,
        help="NAME=DIR (repeat); DIR `random` builds a random small edit model",
    )
    parser.add_argument("--windows", type=int, default=512)
    parser.add_argument("--slow-windows", type=int, default=32, help="for generative families")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def _measure(repairer: Repairer, windows: list[str], trials: int) -> dict[str, Any]:
    repairer.repair(windows[:2])  # warm-up outside the timing
    seconds = []
    for _ in range(trials):
        start = time.perf_counter()
        repairer.repair(windows)
        seconds.append(time.perf_counter() - start)
    return {
        "windows": len(windows),
        "chars": sum(map(len, windows)),
        "seconds": [round(s, 2) for s in seconds],
        "windows_per_s": [round(len(windows) / s, 1) for s in seconds],
    }


def _line(row: dict[str, Any]) -> str:
    rates = " / ".join(f"{r:.1f}" for r in row["windows_per_s"])
    target = TARGET.get(row["family"])
    goal = f" (target >= {target:.0f})" if target else ""
    return (
        f"{row['name']:<28}{row['family']:>18}{row['weights_dtype']:>10}{row['batch_size']:>7}"
        f"{row['windows']:>9}{rates:>18}{goal}"
    )


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nBatched throughput through Repairer, {report['threads']} threads, held-out KJV windows "
        f"(mean {report['windows_chars_mean']} chars), windows/s per trial"
    )
    print_context(report)
    header = f"{'model':<28}{'family':>18}{'dtype':>10}{'batch':>7}{'windows':>9}"
    print(f"{header}{'windows/s':>18}")
    for row in report["rows"]:
        print(_line(row))
    best = {}
    for row in report["rows"]:
        best[row["name"]] = max(best.get(row["name"], 0), max(row["windows_per_s"]))
    if len(best) > 1:
        names = list(best)
        last = names[-1]
        ratios = ", ".join(f"{n} / {last}: {best[n] / best[last]:.0f}x" for n in names[:-1])
        print(f"best windows/s ratios: {ratios}")


if __name__ == "__main__":
    main()
