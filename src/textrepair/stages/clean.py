"""Silver: normalised, windowed, de-duplicated text; rows that break a rule go to quarantine.

Rules apply at two levels, and the counts reconcile at each:
- documents:  bronze documents = documents quarantined + documents windowed
- windows:    windows = silver rows + windows quarantined + duplicates removed
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from textrepair.config import Settings, SilverConfig
from textrepair.data import quality, tables
from textrepair.data.segment import longest_line_bytes, normalise, windows
from textrepair.data.spark import spark_schema
from textrepair.reports import REPORTS_DIR, write_metrics

log = logging.getLogger(__name__)

# Quarantined rows keep this much of their text, enough to see what went wrong.
QUARANTINE_TEXT_CHARS = 1000

_WINDOW_SCHEMA = pa.schema(
    [
        ("window_id", pa.string()),
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("path", pa.string()),
        ("record", pa.string()),
        ("window_index", pa.int32()),
        ("text", pa.string()),
        ("doc_rule", pa.string()),
    ]
)


@dataclass
class CleanResult:
    bronze_documents: int = 0
    documents_quarantined: int = 0
    documents_windowed: int = 0
    windows: int = 0
    windows_quarantined: int = 0
    duplicates_removed: int = 0
    silver_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    silver_version: int | None = None
    quarantine_version: int | None = None

    def check_reconciles(self) -> None:
        """Raise if any row was lost: every input row is accounted for at both levels."""
        docs = self.documents_quarantined + self.documents_windowed
        rows = self.silver_rows + self.windows_quarantined + self.duplicates_removed
        if docs != self.bronze_documents or rows != self.windows:
            raise RuntimeError(f"silver counts do not reconcile: {self}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run(settings: Settings, spark: SparkSession, reports_dir: Path = REPORTS_DIR) -> CleanResult:
    """The DVC stage: `run_clean`, then reports/clean.json."""
    result = run_clean(settings, spark)
    write_metrics("clean", result.to_dict(), reports_dir)
    return result


def run_clean(settings: Settings, spark: SparkSession) -> CleanResult:
    """Rebuild silver and quarantine from the whole bronze table."""
    options = settings.storage.storage_options
    bronze = tables.read_table(spark, settings.lake_path("bronze"), storage_options=options)
    checked = label_rules(segment_documents(bronze, settings.silver), settings.silver).cache()
    try:
        quarantine = quarantine_rows(checked)
        silver = deduplicate(checked.where(F.col("rule").isNull()))
        silver = quality.validate_silver(silver, settings.silver)
        result = _count(bronze, checked, silver)
        result.check_reconciles()
        result.silver_version = tables.write_table(
            silver, settings.lake_path("silver"), storage_options=options
        )
        result.quarantine_version = tables.write_table(
            quarantine, settings.lake_path("quarantine"), storage_options=options
        )
    finally:
        checked.unpersist()
    log.info(
        "silver: %d windows kept, %d quarantined, %d duplicates; %d documents quarantined",
        result.silver_rows,
        result.windows_quarantined,
        result.duplicates_removed,
        result.documents_quarantined,
    )
    return result


def segment_documents(bronze: DataFrame, config: SilverConfig) -> DataFrame:
    """One row per window; a document that breaks a document rule yields one row with its rule."""
    config_dict = config.model_dump()

    def segment_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        silver_config = SilverConfig(**config_dict)
        for batch in batches:
            rows = [w for doc in batch.to_pylist() for w in _document_windows(doc, silver_config)]
            yield pa.RecordBatch.from_pylist(rows, schema=_WINDOW_SCHEMA)

    columns = ["doc_id", "source", "path", "record", "text", "read_error"]
    return bronze.select(*columns).mapInArrow(segment_batches, spark_schema(_WINDOW_SCHEMA))


def _document_windows(doc: dict, config: SilverConfig) -> list[dict]:
    base = {k: doc[k] for k in ("doc_id", "source", "path", "record")}
    text = normalise(doc["text"], config.unicode_form) if doc["text"] is not None else ""
    rule = document_rule(doc["read_error"], text, config)
    if rule is not None:
        kept = (doc["text"] or "")[:QUARANTINE_TEXT_CHARS]
        return [{**base, "window_id": None, "window_index": None, "text": kept, "doc_rule": rule}]
    return [
        {**base, "window_id": window_id(w), "window_index": i, "text": w, "doc_rule": None}
        for i, w in enumerate(windows(text, config.max_window_bytes))
    ]


def document_rule(read_error: str | None, text: str, config: SilverConfig) -> str | None:
    """The document-level rule a normalised document breaks, or None."""
    if read_error is not None:
        return read_error
    if not text:
        return "empty_document"
    if longest_line_bytes(text) > config.max_line_bytes:
        return "huge_line"
    return None


def window_id(text: str) -> str:
    """Stable id of a window: a hash of its text, so it is the same on every machine."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def label_rules(frame: DataFrame, config: SilverConfig) -> DataFrame:
    """Add `rule`: the document rule, else the first window rule the row breaks, else null."""
    rule: Column = F.col("doc_rule")
    for name, broken in quality.window_rules(config):
        rule = F.when(rule.isNull() & broken, F.lit(name)).otherwise(rule)
    return frame.withColumn("rule", rule)


def quarantine_rows(checked: DataFrame) -> DataFrame:
    return checked.where(F.col("rule").isNotNull()).select(
        F.when(F.col("doc_rule").isNotNull(), F.lit("document"))
        .otherwise(F.lit("window"))
        .alias("unit"),
        "doc_id",
        "source",
        "path",
        "record",
        "window_index",
        F.substring("text", 1, QUARANTINE_TEXT_CHARS).alias("text"),
        "rule",
        F.current_timestamp().alias("quarantined_at"),
    )


def deduplicate(candidates: DataFrame) -> DataFrame:
    """Keep the first occurrence of each exact text, by a deterministic order."""
    first = Window.partitionBy("text").orderBy("source", "path", "record", "window_index")
    return (
        candidates.withColumn("_rank", F.row_number().over(first))
        .where(F.col("_rank") == 1)
        .select(
            "window_id",
            "text",
            F.octet_length("text").alias("n_bytes"),
            "doc_id",
            "source",
            "path",
            "record",
            "window_index",
        )
    )


def _count(bronze: DataFrame, checked: DataFrame, silver: DataFrame) -> CleanResult:
    by_rule = {
        (row["unit"], row["rule"]): row["count"]
        for row in checked.where(F.col("rule").isNotNull())
        .groupBy(F.col("doc_rule").isNotNull().alias("unit"), "rule")
        .count()
        .collect()
    }
    reasons: Counter[str] = Counter()
    for (_, rule), n in by_rule.items():
        reasons[rule] += n
    docs_quarantined = sum(n for (is_doc, _), n in by_rule.items() if is_doc)
    windows_quarantined = sum(n for (is_doc, _), n in by_rule.items() if not is_doc)
    windowed = checked.where(F.col("doc_rule").isNull())
    silver_rows = silver.count()
    return CleanResult(
        bronze_documents=bronze.count(),
        documents_quarantined=docs_quarantined,
        documents_windowed=windowed.select("doc_id").distinct().count(),
        windows=windowed.count(),
        windows_quarantined=windows_quarantined,
        duplicates_removed=windowed.where(F.col("rule").isNull()).count() - silver_rows,
        silver_rows=silver_rows,
        quarantine_reasons=dict(sorted(reasons.items())),
    )
