"""Mutation throughput: one Python process versus Spark local[2] (mapInArrow), same engine.

Builds ~150-character English-like rows deterministically, corrupts them with a profile from
params.yaml in (a) a plain loop with `Mutator` + `row_rng(seed, row_id)` and (b) Spark
`local[2]` via `mapInArrow`, checks that both give identical corrupted texts (checksum over all
rows sorted by id) and reports characters per second. Spark session start and worker warm-up
are timed separately and excluded from the throughput figures.

    .venv/bin/python benchmarks/mutation_throughput.py [--rows 40000] [--profile default]

Results are printed as a table and written to benchmarks/results/mutation_throughput.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from _common import RESULTS_DIR, ROOT, run_context, write_report
from textrepair.config import MutationSpec, SparkConfig, load_settings
from textrepair.data.mutations import Mutator, row_rng

RESULTS = RESULTS_DIR / "mutation_throughput.json"

_VOCABULARY = """
the and of to that in he shall unto for i his a lord they be is him not them it with all thou
thy was god which my me said but ye their have will thee from as are when this out were upon man
by you israel king son up there hath then people came had house into her come one we children
before your also day land men shalt against hand went us go even did made so saying no now father
let put may what at sons things these an place our because over do own among away take behold
therefore brought forth after city every great down thus say david jerusalem name earth servants
heart neither given according whom days make like way brethren mine word spake know hast hear
sent any should pass might set eat again evil work sword cast done give both more first wherefore
heaven high good life hundred lo fire only light holy gold fathers moses egypt mouth water spirit
judah glory wicked blood peace bread
"""
WORDS = _VOCABULARY.split()
WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(WORDS))]
OUTPUT_SCHEMA = pa.schema([("id", pa.string()), ("corrupted", pa.string()), ("events", pa.int32())])


def build_rows(n_rows: int, chars: int = 150, seed: int = 20240601) -> list[tuple[str, str]]:
    """(id, text) rows of about `chars` characters of English-like verses, deterministically."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_rows):
        words: list[str] = []
        size = 0
        while size < chars:
            sentence = rng.choices(WORDS, weights=WEIGHTS, k=rng.randint(6, 26))
            sentence[0] = sentence[0].capitalize()
            sentence[-1] += rng.choice(".........?!")
            for j in range(1, len(sentence) - 1):
                if rng.random() < 0.08:
                    sentence[j] += ","
            words.extend(sentence)
            size += sum(len(w) + 1 for w in sentence)
        text = " ".join(words)
        cut = text.rfind(" ", 0, chars + 1)
        rows.append((f"row-{i:08d}", text[: cut if cut > chars // 2 else chars]))
    return rows


def checksum(pairs: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over (id, corrupted) pairs sorted by id."""
    digest = hashlib.sha256()
    for row_id, corrupted in sorted(pairs):
        digest.update(row_id.encode())
        digest.update(b"\x1f")
        digest.update(corrupted.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def run_one_process(
    rows: list[tuple[str, str]], profile: dict[str, MutationSpec], seed: int
) -> tuple[float, list[tuple[str, str]], int]:
    """Plain loop: returns (seconds, (id, corrupted) pairs, events)."""
    start = time.perf_counter()
    mutator = Mutator(profile)
    out = []
    events = 0
    for row_id, text in rows:
        corrupted, mutations = mutator.mutate(text, row_rng(seed, row_id))
        out.append((row_id, corrupted))
        events += len(mutations)
    return time.perf_counter() - start, out, events


def mutate_batches(profile_dump: dict[str, dict], seed: int):
    """The mapInArrow function: the same engine, one generator per row."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        mutator = Mutator({k: MutationSpec(**v) for k, v in profile_dump.items()})
        for batch in batches:
            ids = batch.column("id").to_pylist()
            texts = batch.column("text").to_pylist()
            corrupted, counts = [], []
            for row_id, text in zip(ids, texts, strict=True):
                damaged, mutations = mutator.mutate(text, row_rng(seed, row_id))
                corrupted.append(damaged)
                counts.append(len(mutations))
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(corrupted), pa.array(counts, pa.int32())],
                schema=OUTPUT_SCHEMA,
            )

    return run


def run_spark(
    rows: list[tuple[str, str]],
    profile: dict[str, MutationSpec],
    seed: int,
    partitions: int,
    repeats: int,
) -> dict[str, object]:
    from pyspark.sql import functions as F

    from textrepair.data.spark import get_spark, spark_schema

    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    started = time.perf_counter()
    spark = get_spark(
        SparkConfig(
            master="local[2]",
            conf={"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"},
        )
    )
    session_seconds = time.perf_counter() - started

    profile_dump = {str(k): v.model_dump() for k, v in profile.items()}
    schema = spark_schema(OUTPUT_SCHEMA)
    table = pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows]})

    # Input loaded and cached before timing: we measure the mutation, not the data transfer.
    started = time.perf_counter()
    frame = spark.createDataFrame(table.to_pandas()).repartition(partitions, "id").cache()
    frame.count()
    load_seconds = time.perf_counter() - started

    # Warm-up: starts the Python workers and imports the engine in them.
    started = time.perf_counter()
    warm = frame.limit(2000).mapInArrow(mutate_batches(profile_dump, seed), schema)
    warm.agg(F.sum(F.length("corrupted"))).collect()
    frame.mapInArrow(mutate_batches(profile_dump, seed), schema).write.format("noop").mode(
        "overwrite"
    ).save()
    warmup_seconds = time.perf_counter() - started

    corrupted = frame.mapInArrow(mutate_batches(profile_dump, seed), schema)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        corrupted.write.format("noop").mode("overwrite").save()
        timings.append(time.perf_counter() - started)

    # Untimed: bring back every row for the checksum and the counts.
    result = corrupted.select("id", "corrupted", "events").toArrow()
    pairs = list(
        zip(result.column("id").to_pylist(), result.column("corrupted").to_pylist(), strict=True)
    )
    return {
        "session_start_seconds": session_seconds,
        "input_load_seconds": load_seconds,
        "warmup_seconds": warmup_seconds,
        "timings": timings,
        "pairs": pairs,
        "events": sum(result.column("events").to_pylist()),
        "spark_version": spark.version,
        "partitions": frame.rdd.getNumPartitions(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000, help="Rows of ~150 characters.")
    parser.add_argument("--profile", default="default", help="Profile from params.yaml.")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--seed", type=int, default=1234, help="Mutation seed.")
    parser.add_argument("--partitions", type=int, default=4, help="Spark input partitions.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per mode; best kept.")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    profiles = load_settings(args.params).mutation_profiles
    if args.profile not in profiles:
        parser.error(f"unknown profile {args.profile!r}; known: {', '.join(sorted(profiles))}")
    profile = profiles[args.profile]

    context = run_context()
    started = time.perf_counter()
    rows = build_rows(args.rows)
    build_seconds = time.perf_counter() - started
    chars = sum(len(text) for _, text in rows)
    print(f"built {len(rows):,} rows, {chars:,} characters in {build_seconds:.2f}s", flush=True)

    local_times = []
    for _ in range(args.repeats):
        seconds, local_pairs, local_events = run_one_process(rows, profile, args.seed)
        local_times.append(seconds)
    local_sum = checksum(local_pairs)
    print(f"one process: best {min(local_times):.2f}s of {args.repeats}", flush=True)

    spark = run_spark(rows, profile, args.seed, args.partitions, args.repeats)
    spark_sum = checksum(spark["pairs"])
    identical = spark_sum == local_sum and len(spark["pairs"]) == len(local_pairs)

    modes = {
        "one-process": {"seconds": min(local_times), "all_seconds": local_times},
        "spark-local[2]": {"seconds": min(spark["timings"]), "all_seconds": spark["timings"]},
    }
    for mode in modes.values():
        mode["rows"] = len(rows)
        mode["chars"] = chars
        mode["chars_per_second"] = chars / mode["seconds"]
    ratio = modes["spark-local[2]"]["chars_per_second"] / modes["one-process"]["chars_per_second"]

    header = f"{'mode':<16}{'rows':>10}{'chars':>13}{'seconds':>10}{'chars/s':>14}"
    print()
    print(header)
    print("-" * len(header))
    for name, mode in modes.items():
        print(
            f"{name:<16}{mode['rows']:>10,}{mode['chars']:>13,}{mode['seconds']:>10.3f}"
            f"{mode['chars_per_second']:>14,.0f}"
        )
    print("-" * len(header))
    print(f"spark/one-process throughput ratio: {ratio:.2f}")
    print(
        f"spark session start {spark['session_start_seconds']:.2f}s, input load+cache "
        f"{spark['input_load_seconds']:.2f}s, warm-up {spark['warmup_seconds']:.2f}s "
        f"(excluded); {spark['partitions']} partitions; best of {args.repeats} runs per mode"
    )
    print(
        f"events: one-process {local_events:,}, spark {spark['events']:,}; checksums "
        f"{'identical' if identical else 'DIFFER'}: {local_sum[:16]} / {spark_sum[:16]}"
    )

    load_after = os.getloadavg()[0]
    print(
        f"1-minute load average: {context['load_average_1min']:.2f} before, {load_after:.2f} "
        f"after ({context['cpu_count']} cores)"
    )

    report = {
        "profile": args.profile,
        "seed": args.seed,
        "rows": len(rows),
        "chars": chars,
        "events": local_events,
        "repeats": args.repeats,
        "modes": modes,
        "spark_over_one_process": ratio,
        "spark_session_start_seconds": spark["session_start_seconds"],
        "spark_input_load_seconds": spark["input_load_seconds"],
        "spark_warmup_seconds": spark["warmup_seconds"],
        "spark_partitions": spark["partitions"],
        "identical_output": identical,
        "checksum_one_process": local_sum,
        "checksum_spark": spark_sum,
        "environment": {
            **context,
            "spark": spark["spark_version"],
            "load_average_1min_after": load_after,
        },
    }
    write_report(args.output, report)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
