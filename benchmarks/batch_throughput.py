"""Batch scoring throughput: Repairer called directly in one process vs Spark local[1] and local[2].

The same damaged rows (~100 characters, the default mutation profile) are repaired (a) by one
`Repairer` in this process with one torch thread, in chunks of `batch.rows_per_arrow_batch` rows
as Spark hands them to a worker, and (b) by the batch job's scoring step
(`textrepair.stages.batch.score_frame`: mapInPandas, the model loaded once per Python worker, one
torch thread per worker) on Spark local[1] and local[2], written to Spark's `noop` sink so the
Delta commit is not part of the figure. Session start and worker warm-up (imports, model load)
are timed separately and excluded.

    python benchmarks/batch_throughput.py [--model PATH_OR_URI] [--rows 240] [--size tiny]

Without --model a random byte-T5 of --size is built on the fly (seeded). Targets (issue 5):
local[2] at least 1.6x the direct rows/s, and local[1] at most 15% slower than direct.
Results are printed side by side and written to benchmarks/results/batch_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS_DIR, ROOT, run_context, write_report
from mutation_throughput import build_rows
from textrepair.config import SparkConfig, load_settings
from textrepair.data.mutations import Mutator, row_rng
from textrepair.scoring import resolve_model

RESULTS = RESULTS_DIR / "batch_throughput.json"


def damaged_rows(n_rows: int, profile: dict, seed: int = 1234) -> list[tuple[str, str]]:
    mutator = Mutator(profile)
    return [
        (row_id, mutator.mutate(text, row_rng(seed, row_id))[0])
        for row_id, text in build_rows(n_rows, chars=100)
    ]


def random_model(size: str, target: Path) -> str:
    import torch

    from textrepair.model.families import ModelConfig, build_model, save_model

    torch.manual_seed(0)
    config = ModelConfig(family="byt5", size=size, dropout=0.0)
    model, tokenizer = build_model(config)
    return str(save_model(model.eval(), tokenizer, config, target / f"random-byt5-{size}"))


def run_direct(model, rows, chunk: int) -> tuple[float, dict[str, str]]:
    import torch

    from textrepair.model.repairer import Repairer

    torch.set_num_threads(1)
    repairer = Repairer.load(model.local_dir, batch_size=model.batch_size)
    repairer.repair([rows[0][1]])  # warm-up outside the timing
    started = time.perf_counter()
    out = {}
    for first in range(0, len(rows), chunk):
        part = rows[first : first + chunk]
        results = repairer.repair([text for _, text in part])
        out.update({row_id: r.text for (row_id, _), r in zip(part, results, strict=True)})
    return time.perf_counter() - started, out


def run_spark(model, rows, cores: int, chunk: int, repeats: int) -> dict:
    from textrepair.data.spark import get_spark
    from textrepair.stages.batch import score_frame

    started = time.perf_counter()
    spark = get_spark(
        SparkConfig(
            master=f"local[{cores}]",
            app_name=f"bench-local{cores}",
            conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": str(2 * cores)},
        )
    )
    session = time.perf_counter() - started
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk))
    frame = spark.createDataFrame(rows, "id string, text string").cache()
    frame.count()
    scored = score_frame(frame, model, 2 * cores)
    started = time.perf_counter()
    scored.write.format("noop").mode("overwrite").save()  # warm-up: imports, model load
    warmup = time.perf_counter() - started
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        scored.write.format("noop").mode("overwrite").save()
        timings.append(time.perf_counter() - started)
    out = {r["id"]: r["repaired"] for r in scored.select("id", "repaired").collect()}
    master, cores_seen = spark.sparkContext.master, spark.sparkContext.defaultParallelism
    spark.stop()
    return {
        "session": session,
        "warmup": warmup,
        "timings": timings,
        "out": out,
        "master": master,
        "cores": cores_seen,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Model directory or MLflow URI (default: random byte-T5).")
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--rows", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=1, help="Timed runs per Spark mode.")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    settings = load_settings(ROOT / "params.yaml")
    chunk, batch_size = settings.batch.rows_per_arrow_batch, settings.batch.batch_size
    rows = damaged_rows(args.rows, settings.mutation_profiles["default"])
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        if args.model and args.model.startswith("models:"):
            from textrepair.lifecycle.tracking import configure_mlflow

            configure_mlflow(settings.mlflow)
        source = args.model or random_model(args.size, Path(tmp))
        model = resolve_model(source, batch_size=batch_size, torch_threads=1)
        print(f"{len(rows)} rows, model {model.version}, Repairer batch {batch_size}", flush=True)
        context = run_context()
        direct_seconds, direct_out = run_direct(model, rows, chunk)
        print(f"direct: {direct_seconds:.2f}s", flush=True)
        spark = {cores: run_spark(model, rows, cores, chunk, args.repeats) for cores in (1, 2)}
        load_after = os.getloadavg()[0]

    modes = {"direct (1 process, 1 thread)": direct_seconds}
    modes.update({f"spark local[{c}]": min(r["timings"]) for c, r in spark.items()})
    rate = {name: len(rows) / seconds for name, seconds in modes.items()}
    direct_rate = rate["direct (1 process, 1 thread)"]
    ratio_two = rate["spark local[2]"] / direct_rate
    overhead_one = 1 - rate["spark local[1]"] / direct_rate
    same = {c: sum(r["out"][k] == v for k, v in direct_out.items()) for c, r in spark.items()}

    print(f"\n{'mode':<30}{'seconds':>10}{'rows/s':>10}")
    for name, seconds in modes.items():
        print(f"{name:<30}{seconds:>10.2f}{rate[name]:>10.1f}")
    print(f"\nspark local[2] / direct: {ratio_two:.2f}x (target >= 1.6)")
    print(f"spark local[1] overhead vs direct: {overhead_one:.1%} (target <= 15%)")
    for cores, result in spark.items():
        print(
            f"{result['master']} ({result['cores']} cores): session start "
            f"{result['session']:.1f}s, warm-up {result['warmup']:.1f}s (excluded); "
            f"outputs equal to direct {same[cores]}/{len(rows)}"
        )
    print(
        f"1-minute load average: {context['load_average_1min']:.2f} before, {load_after:.2f} "
        f"after ({context['cpu_count']} cores)"
    )

    report = {
        "rows": len(rows),
        "model_version": model.version,
        "repairer_batch_size": batch_size,
        "rows_per_arrow_batch": chunk,
        "seconds": modes,
        "rows_per_second": rate,
        "local2_over_direct": ratio_two,
        "local1_overhead": overhead_one,
        "equal_outputs": {f"local[{c}]": n for c, n in same.items()},
        "environment": {**context, "load_average_1min_after": load_after},
    }
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
