"""Batch scoring: a Delta table or files in, a predictions Delta table out, merged on id.

    input (Delta table | parquet | json lines | csv) ─▶ (id, text), one row per id
        ─▶ mapInPandas: Repairer loaded once per Python worker ─▶ predictions (merge on id)

A rerun is idempotent: rows whose id is already in the predictions table are replaced (with the
new scored_at and model version), never duplicated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from textrepair.config import Settings
from textrepair.data import tables
from textrepair.data.spark import spark_schema
from textrepair.monitoring.predlog import log_uri
from textrepair.scoring import PREDICTION_SCHEMA, ScoringModel, log_scored, score_batches

log = logging.getLogger(__name__)

FILE_FORMATS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}


@dataclass
class BatchResult:
    input_rows: int = 0
    scored_rows: int = 0
    null_id_rows: int = 0
    null_text_rows: int = 0
    duplicate_id_rows: int = 0
    inserted: int = 0
    updated: int = 0
    table_version: int = 0
    model_version: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def table_uri(settings: Settings, name_or_path: str) -> str:
    """A bare name is a table under storage.root; anything with a slash is a path or URI."""
    return name_or_path if "/" in name_or_path else settings.lake_path(name_or_path)


def read_input(spark: SparkSession, source: str, storage_options: dict[str, str]) -> DataFrame:
    """A Delta table if `source` is one, else parquet / JSON lines / CSV files by extension."""
    if tables.table_exists(source, storage_options):
        return tables.read_table(spark, source, storage_options=storage_options)
    path = Path(source)
    if "://" not in source and not path.exists() and not any(c in source for c in "*?["):
        raise ValueError(f"batch input {source!r}: no Delta table, file or folder there")
    fmt = _file_format(path)
    reader = spark.read.option("header", "true") if fmt == "csv" else spark.read
    uri = source if "://" in source else str(path.absolute())
    return reader.format(fmt).load(uri)


def _file_format(path: Path) -> str:
    candidates = [path] if not path.is_dir() else sorted(p for p in path.rglob("*") if p.is_file())
    for candidate in candidates:
        if candidate.suffix.lower() in FILE_FORMATS:
            return FILE_FORMATS[candidate.suffix.lower()]
    known = ", ".join(sorted(FILE_FORMATS))
    raise ValueError(f"batch input {str(path)!r}: not a Delta table and no {known} files")


def prepare_rows(frame: DataFrame, id_column: str, text_column: str) -> DataFrame:
    """(id, text) as strings; rows without an id or a text are dropped (and counted by the job)."""
    missing = [c for c in (id_column, text_column) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"batch input has no column(s) {missing}; its columns are {frame.columns} "
            "(choose with --id-column / --text-column)"
        )
    return frame.select(
        F.col(id_column).cast("string").alias("id"), F.col(text_column).cast("string").alias("text")
    )


def one_row_per_id(rows: DataFrame) -> DataFrame:
    """Keep one row per id, deterministically (the smallest text): a merge needs unique keys."""
    first = Window.partitionBy("id").orderBy("text")
    return rows.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")


def score_frame(rows: DataFrame, model: ScoringModel, partitions: int) -> DataFrame:
    """PREDICTION_SCHEMA rows for (id, text) rows, scored on every core."""
    spark = rows.sparkSession
    parts = partitions or 2 * spark.sparkContext.defaultParallelism
    return rows.repartition(parts).mapInPandas(
        score_batches(model), spark_schema(PREDICTION_SCHEMA)
    )


def run(
    settings: Settings,
    spark: SparkSession,
    model: ScoringModel,
    source: str,
    output: str,
    *,
    where: str | None = None,
) -> BatchResult:
    """Score `source` with `model` and merge the predictions into the table `output`."""
    config, options = settings.batch, settings.storage.storage_options
    started = time.perf_counter()
    frame = read_input(spark, source, options)
    if where:
        frame = frame.where(where)
    rows = prepare_rows(frame, config.id_column, config.text_column)
    counts = rows.select(
        F.count(F.lit(1)).alias("all"),
        F.sum(F.col("id").isNull().cast("int")).alias("null_id"),
        F.sum((F.col("id").isNotNull() & F.col("text").isNull()).cast("int")).alias("null_text"),
        F.countDistinct("id").alias("ids"),
    ).first()
    valid = rows.where(F.col("id").isNotNull() & F.col("text").isNotNull())
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(config.rows_per_arrow_batch))
    # Persisted: scored once, read by the merge and by the prediction log.
    scored = score_frame(one_row_per_id(valid), model, config.partitions).persist()
    try:
        merged = tables.merge_table(scored, output, key="id", storage_options=options)
        seconds = time.perf_counter() - started
        log_scored(scored, log_uri(settings), seconds, "batch", options)
    finally:
        scored.unpersist()
    result = BatchResult(
        input_rows=counts["all"],
        null_id_rows=counts["null_id"] or 0,
        null_text_rows=counts["null_text"] or 0,
        inserted=merged["inserted"],
        updated=merged["updated"],
        table_version=merged["version"],
        model_version=model.version,
    )
    valid_rows = result.input_rows - result.null_id_rows - result.null_text_rows
    result.scored_rows = merged["inserted"] + merged["updated"]
    result.duplicate_id_rows = valid_rows - result.scored_rows
    result.seconds = time.perf_counter() - started
    log.info("batch: %s", result.to_dict())
    return result
