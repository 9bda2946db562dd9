"""Gold: (clean, corrupted, mutations) pairs with a deterministic train/validation/test split.

Silver is first balanced: a source with a cap in ``gold.max_windows_per_source`` keeps that many
windows, chosen by a seeded hash of the window id, so no one book dominates. The mutation engine
then runs inside Spark, one row at a time with a generator seeded by (global seed, row id,
profile), so gold is byte-identical whatever the partitioning. Every gold row keeps its `source`.
Test rows are also corrupted with each single-type profile: the per-mutation test sets.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from textrepair.config import GoldConfig, Settings
from textrepair.data import tables
from textrepair.data.mutations import Mutator, damage_or_keep, row_rng
from textrepair.data.spark import spark_schema
from textrepair.reports import REPORTS_DIR, write_metrics

log = logging.getLogger(__name__)

MUTATION_TYPE = pa.struct(
    [
        ("type", pa.string()),
        ("start", pa.int32()),
        ("length", pa.int32()),
        ("original", pa.string()),
        ("replacement", pa.string()),
    ]
)
GOLD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("clean", pa.string()),
        ("corrupted", pa.string()),
        ("mutations", pa.list_(MUTATION_TYPE)),
        ("profile", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
    ]
)
SPLITS = ("train", "validation", "test")


@dataclass
class CorruptResult:
    silver_rows: int = 0
    silver_windows_by_source: dict[str, int] = field(default_factory=dict)
    gold_windows_by_source: dict[str, int] = field(default_factory=dict)
    test_windows_by_source: dict[str, int] = field(default_factory=dict)
    gold_rows: int = 0
    rows_by_split: dict[str, int] = field(default_factory=dict)
    rows_by_profile: dict[str, int] = field(default_factory=dict)
    clean_rows: int = 0
    mutations_by_type: dict[str, int] = field(default_factory=dict)
    damaged_char_rate: float = 0.0
    gold_version: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def split_of(text: str, config: GoldConfig) -> str:
    """Split by a hash of the case- and space-folded text: a text and its near-copies agree."""
    key = " ".join(text.casefold().split()).encode("utf-8")
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    if bucket < config.test_fraction:
        return "test"
    if bucket < config.test_fraction + config.validation_fraction:
        return "validation"
    return "train"


def balance(silver: DataFrame, caps: Mapping[str, int], seed: int) -> DataFrame:
    """At most ``caps[source]`` windows of each capped source; other sources are kept whole.

    The kept windows are those with the lowest hash of (seed, window id): a seeded sample that
    does not depend on partitioning, and that keeps the same windows when silver only grows.
    """
    if not caps:
        return silver
    draw = F.sha2(F.concat(F.lit(f"{seed}\x1f"), F.col("window_id")), 256)
    order = Window.partitionBy("source").orderBy(draw, "window_id")
    cap = F.create_map(*(F.lit(v) for item in sorted(caps.items()) for v in item))[F.col("source")]
    return (
        silver.withColumn("_draw", F.row_number().over(order))
        .where(cap.isNull() | (F.col("_draw") <= cap))
        .drop("_draw")
    )


def corrupt_rows(rows: list[dict], settings: Settings) -> list[dict]:
    """Gold rows for silver rows (window_id, text, source): main profile, plus single-type tests."""
    gold = settings.gold
    main = Mutator(settings.mutation_profiles[gold.profile])
    singles = {p: Mutator(settings.mutation_profiles[p]) for p in gold.single_type_profiles}
    out = []
    for row in rows:
        clean, row_id, source = row["text"], row["window_id"], row["source"]
        split = split_of(clean, gold)
        rng = row_rng(settings.seed, row_id, gold.profile)
        corrupted, events = damage_or_keep(clean, main, rng, gold.clean_fraction)
        out.append(_gold_row(row_id, clean, corrupted, events, gold.profile, split, source))
        if split == "test":
            for name, mutator in singles.items():
                corrupted, events = mutator.mutate(clean, row_rng(settings.seed, row_id, name))
                single_id = f"{row_id}-{name}"
                out.append(_gold_row(single_id, clean, corrupted, events, name, split, source))
    return out


def _gold_row(
    row_id: str, clean: str, corrupted: str, events: list, profile: str, split: str, source: str
) -> dict:
    return {
        "id": row_id,
        "clean": clean,
        "corrupted": corrupted,
        "mutations": [e.to_dict() for e in events],
        "profile": profile,
        "split": split,
        "source": source,
    }


def corrupt_frame(silver: DataFrame, settings: Settings) -> DataFrame:
    """Apply `corrupt_rows` inside Spark."""
    settings_dict = settings.model_dump(mode="json")

    def corrupt_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker_settings = Settings(**settings_dict)
        for batch in batches:
            rows = corrupt_rows(batch.to_pylist(), worker_settings)
            yield pa.RecordBatch.from_pylist(rows, schema=GOLD_SCHEMA)

    columns = silver.select("window_id", "text", "source")
    return columns.mapInArrow(corrupt_batches, spark_schema(GOLD_SCHEMA))


def run(
    settings: Settings, spark: SparkSession, reports_dir: Path = REPORTS_DIR
) -> tuple[CorruptResult, Path, Path]:
    """The DVC stage: `run_corrupt`, reports/gold.json and the data report (JSON and plot)."""
    from textrepair.data.datareport import build_report, length_histogram, write_report

    result = run_corrupt(settings, spark)
    write_metrics("gold", result.to_dict(), reports_dir)
    silver = tables.read_table(
        spark, settings.lake_path("silver"), storage_options=settings.storage.storage_options
    )
    report = build_report(result.to_dict(), length_histogram(silver), reports_dir)
    json_path, png_path = write_report(report, reports_dir)
    return result, json_path, png_path


def run_corrupt(settings: Settings, spark: SparkSession) -> CorruptResult:
    """Rebuild gold from silver."""
    options = settings.storage.storage_options
    silver = tables.read_table(spark, settings.lake_path("silver"), storage_options=options)
    balanced = balance(silver, settings.gold.max_windows_per_source, settings.seed)
    gold = corrupt_frame(balanced, settings)
    version = tables.write_table(gold, settings.lake_path("gold"), storage_options=options)
    written = tables.read_table(spark, settings.lake_path("gold"), storage_options=options)
    result = summarise_gold(written, settings.gold.profile)
    result.silver_rows = silver.count()
    result.silver_windows_by_source = _count_by(silver, "source")
    result.gold_version = version
    log.info("gold: %d rows %s", result.gold_rows, result.rows_by_split)
    log.info(
        "windows per source: silver %s, gold %s",
        result.silver_windows_by_source,
        result.gold_windows_by_source,
    )
    return result


def _count_by(frame: DataFrame, column: str) -> dict[str, int]:
    return {r[column]: r["count"] for r in frame.groupBy(column).count().orderBy(column).collect()}


def summarise_gold(gold: DataFrame, main_profile: str) -> CorruptResult:
    by_split = {r["split"]: r["count"] for r in gold.groupBy("split").count().collect()}
    by_profile = {r["profile"]: r["count"] for r in gold.groupBy("profile").count().collect()}
    main = gold.where(F.col("profile") == main_profile)
    by_source = _count_by(main, "source")
    test_by_source = _count_by(main.where(F.col("split") == "test"), "source")
    events = main.select(F.explode("mutations").alias("m"))
    by_type = {r["type"]: r["count"] for r in events.groupBy("m.type").count().collect()}
    damaged = events.select(
        F.sum(F.greatest(F.col("m.length"), F.length("m.replacement") - F.col("m.length"))).alias(
            "n"
        )
    ).first()["n"]
    stats = main.select(
        F.sum(F.length("clean")).alias("chars"),
        F.sum((F.size("mutations") == 0).cast("int")).alias("clean_rows"),
    ).first()
    return CorruptResult(
        gold_rows=sum(by_split.values()),
        rows_by_split={s: by_split.get(s, 0) for s in SPLITS},
        rows_by_profile=dict(sorted(by_profile.items())),
        gold_windows_by_source=by_source,
        test_windows_by_source=test_by_source,
        clean_rows=stats["clean_rows"] or 0,
        mutations_by_type=dict(sorted(by_type.items())),
        damaged_char_rate=round((damaged or 0) / max(stats["chars"] or 0, 1), 5),
    )
