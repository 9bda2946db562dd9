"""Gold: (clean, corrupted, mutations) pairs with a deterministic train/validation/test split.

The mutation engine runs inside Spark, one row at a time with a generator seeded by
(global seed, row id, profile), so gold is byte-identical whatever the partitioning.
Test rows are also corrupted with each single-type profile: the per-mutation test sets.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from textrepair import tables
from textrepair.config import GoldConfig, Settings
from textrepair.mutations import Mutator, damage_or_keep, row_rng
from textrepair.spark import spark_schema

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
    ]
)
SPLITS = ("train", "validation", "test")


@dataclass
class CorruptResult:
    silver_rows: int = 0
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


def corrupt_rows(rows: list[dict], settings: Settings) -> list[dict]:
    """Gold rows for silver rows (window_id, text): main profile, plus single-type test rows."""
    gold = settings.gold
    main = Mutator(settings.mutation_profiles[gold.profile])
    singles = {p: Mutator(settings.mutation_profiles[p]) for p in gold.single_type_profiles}
    out = []
    for row in rows:
        clean, row_id = row["text"], row["window_id"]
        split = split_of(clean, gold)
        rng = row_rng(settings.seed, row_id, gold.profile)
        corrupted, events = damage_or_keep(clean, main, rng, gold.clean_fraction)
        out.append(_gold_row(row_id, clean, corrupted, events, gold.profile, split))
        if split == "test":
            for name, mutator in singles.items():
                corrupted, events = mutator.mutate(clean, row_rng(settings.seed, row_id, name))
                out.append(_gold_row(f"{row_id}-{name}", clean, corrupted, events, name, split))
    return out


def _gold_row(
    row_id: str, clean: str, corrupted: str, events: list, profile: str, split: str
) -> dict:
    return {
        "id": row_id,
        "clean": clean,
        "corrupted": corrupted,
        "mutations": [e.to_dict() for e in events],
        "profile": profile,
        "split": split,
    }


def corrupt_frame(silver: DataFrame, settings: Settings) -> DataFrame:
    """Apply `corrupt_rows` inside Spark."""
    settings_dict = settings.model_dump(mode="json")

    def corrupt_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker_settings = Settings(**settings_dict)
        for batch in batches:
            rows = corrupt_rows(batch.to_pylist(), worker_settings)
            yield pa.RecordBatch.from_pylist(rows, schema=GOLD_SCHEMA)

    return silver.select("window_id", "text").mapInArrow(corrupt_batches, spark_schema(GOLD_SCHEMA))


def run_corrupt(settings: Settings, spark: SparkSession) -> CorruptResult:
    """Rebuild gold from silver."""
    options = settings.storage.storage_options
    silver = tables.read_table(spark, settings.lake_path("silver"), storage_options=options)
    gold = corrupt_frame(silver, settings)
    version = tables.write_table(gold, settings.lake_path("gold"), storage_options=options)
    written = tables.read_table(spark, settings.lake_path("gold"), storage_options=options)
    result = summarise_gold(written, settings.gold.profile)
    result.silver_rows = silver.count()
    result.gold_version = version
    log.info("gold: %d rows %s", result.gold_rows, result.rows_by_split)
    return result


def summarise_gold(gold: DataFrame, main_profile: str) -> CorruptResult:
    by_split = {r["split"]: r["count"] for r in gold.groupBy("split").count().collect()}
    by_profile = {r["profile"]: r["count"] for r in gold.groupBy("profile").count().collect()}
    main = gold.where(F.col("profile") == main_profile)
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
        clean_rows=stats["clean_rows"] or 0,
        mutations_by_type=dict(sorted(by_type.items())),
        damaged_char_rate=round((damaged or 0) / max(stats["chars"] or 0, 1), 5),
    )
