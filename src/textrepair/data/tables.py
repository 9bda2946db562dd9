"""Delta table I/O: the only module that knows how tables are committed and read.

With Spark's Delta connector configured (`textrepair.data.spark.uses_delta_connector`), Spark
reads and writes the tables itself. Otherwise (the default here: the connector's jars come from
Maven, which we cannot reach) commits go through delta-rs (`deltalake`) and Spark reads the
parquet files that are live in the requested table version. Time travel (`version=N`) works
either way.

URIs may be plain paths, `file://`, `abfss://`, `s3a://` or `s3://`. `storage_options` are
delta-rs credentials; in connector mode Spark takes its credentials from the Hadoop configuration.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, QueryBuilder, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.exceptions import TableNotFoundError as DeltaTableNotFoundError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType

from textrepair.data.spark import uses_delta_connector

WriteMode = Literal["append", "overwrite"]

# Which pipeline stage writes a table, by the table's last path component (for error messages).
_WRITTEN_BY = {
    "bronze": "bronze",
    "silver": "silver",
    "quarantine": "silver",
    "gold": "gold",
    "predictions": "batch scoring (or streaming)",
    "prediction_log": "serving",
    "stream_predictions": "streaming (textrepair stream)",
    "stream_quarantine": "streaming (textrepair stream)",
}
# Reader features that change how a table's parquet files must be interpreted: reading the live
# files directly would resurrect deleted rows or show physical column names.
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}
_GLOB_CHARS = set("*?[]{}\\")
# delta-rs mishandles these in local paths: '[' and ']' make it panic, '%XX' gets decoded.
_DELTA_RS_BAD_LOCAL_PATH = re.compile(r"[\[\]]|%[0-9A-Fa-f]{2}")
# Commit races `append_once` retries before giving up (each retry re-reads the table).
_APPEND_ONCE_ATTEMPTS = 5
# DataFusion settings of `read_arrow`: one partition reads the files in log order, so a table
# reads back in the same row order every time (what `to_pyarrow_table` gave).
_QUERY_CONFIG = {"datafusion.execution.target_partitions": "1"}


class TableNotFoundError(ValueError):
    """No Delta table exists at the given URI."""


# --------------------------------------------------------------------------- URIs


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file:")


def _local_path(uri: str) -> Path:
    """Absolute local path for a plain path or a file: URI."""
    if uri.startswith("file:"):
        uri = unquote(urlsplit(uri).path)
    return Path(uri).expanduser().absolute()


def _delta_rs_uri(uri: str) -> str:
    """The URI as delta-rs wants it: absolute local paths, and s3:// for Hadoop's s3a://."""
    if _is_local(uri):
        path = str(_local_path(uri))
        if _DELTA_RS_BAD_LOCAL_PATH.search(path):
            raise ValueError(
                f"delta-rs cannot use local paths containing '[', ']' or '%XX': {path}"
            )
        return path
    if uri.startswith("s3a://"):
        return "s3://" + uri.removeprefix("s3a://")
    return uri.rstrip("/")


def _s3a(uri: str) -> str:
    """Hadoop's name for an s3:// URI that delta-rs hands back."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


def _spark_uri(uri: str) -> str:
    """The URI as Spark wants it: local paths become explicit file: URIs (never the default FS)."""
    if _is_local(uri):
        # Not Path.as_uri(): Hadoop does not percent-decode, so the path must stay unencoded.
        return "file://" + _local_path(uri).as_posix()
    return uri.rstrip("/")


def _spark_glob_escape(path: str) -> str:
    # Spark expands glob characters in load paths; escape them so a path means itself.
    if not _GLOB_CHARS.intersection(path):
        return path
    return "".join("\\" + c if c in _GLOB_CHARS else c for c in path)


def _not_found(uri: str) -> TableNotFoundError:
    name = PurePosixPath(uri.rstrip("/")).name
    stage = _WRITTEN_BY.get(name)
    hint = (
        f"it is written by the {stage} stage; run that stage first (e.g. `dvc repro`)"
        if stage
        else "run the pipeline stage that writes it first (e.g. `dvc repro`)"
    )
    return TableNotFoundError(f"no Delta table at {uri!r}: {hint}")


# --------------------------------------------------------------------------- delta-rs helpers


def _open(uri: str, version: int | None, storage_options: dict[str, str] | None) -> DeltaTable:
    """Open a delta-rs DeltaTable, turning 'missing' and 'no such version' into clear errors."""
    target = _delta_rs_uri(uri)
    if not DeltaTable.is_deltatable(target, storage_options=storage_options):
        raise _not_found(uri)
    try:
        return DeltaTable(target, version=version, storage_options=storage_options)
    except DeltaTableNotFoundError as exc:
        raise _not_found(uri) from exc
    except DeltaError as exc:
        if version is None:
            raise
        latest = DeltaTable(target, storage_options=storage_options).version()
        raise ValueError(
            f"cannot load version {version} of {uri!r} (versions 0..{latest} exist)"
        ) from exc


def _live_files(table: DeltaTable, root: str) -> dict[tuple[tuple[str, Any], ...], list[str]]:
    """Spark-readable URIs of the table's live parquet files, grouped by partition values."""
    actions = pa.table(table.get_add_actions(flatten=False))
    paths = actions.column("path").to_pylist()
    if "partition" in actions.column_names:
        partitions = actions.column("partition").to_pylist()
    else:
        partitions = [None] * len(paths)
    groups: dict[tuple[tuple[str, Any], ...], list[str]] = defaultdict(list)
    for path, values in zip(paths, partitions, strict=True):
        # Log paths are URI-encoded relative paths (absolute only for shallow clones).
        if "://" in path:
            file_uri = path if not root.startswith("s3a://") else _s3a(path)
        else:
            file_uri = f"{root}/{unquote(path)}"
        groups[tuple((values or {}).items())].append(_spark_glob_escape(file_uri))
    return groups


def _check_readable(table: DeltaTable, uri: str) -> None:
    features = set(table.protocol().reader_features or [])
    unsupported = features & _UNSUPPORTED_READER_FEATURES
    if unsupported:
        raise NotImplementedError(
            f"{uri!r} uses Delta reader features {sorted(unsupported)}, which need Spark's Delta "
            "connector (set spark.delta_connector: true)"
        )


# --------------------------------------------------------------------------- public API


def sql_string_literal(value: str) -> str:
    """Quote `value` as an SQL string literal that Spark SQL and delta-rs read the same way.

    Single quotes are doubled. Backslashes are escapes in Spark SQL but literal in delta-rs
    (DataFusion), so they are spelled `chr(92)`, which both engines evaluate alike.
    """
    parts = [f"'{piece.replace(chr(39), chr(39) * 2)}'" for piece in value.split("\\")]
    if len(parts) == 1:
        return parts[0]
    spelled = ", chr(92), ".join(parts)
    return f"concat({spelled})"


def table_exists(uri: str, storage_options: dict[str, str] | None = None) -> bool:
    """True when a Delta table (a `_delta_log`) exists at `uri`."""
    return DeltaTable.is_deltatable(_delta_rs_uri(uri), storage_options=storage_options)


def table_version(uri: str, storage_options: dict[str, str] | None = None) -> int | None:
    """The latest version of the table at `uri`, or None when there is no table."""
    if not table_exists(uri, storage_options):
        return None
    return int(_open(uri, None, storage_options).version())


def write_arrow(
    table: pa.Table,
    uri: str,
    *,
    mode: WriteMode = "overwrite",
    partition_by: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
    description: str | None = None,
) -> int:
    """Commit an Arrow table with delta-rs (driver-side, no Spark); return the new version.

    `overwrite` replaces rows and schema; `append` adds rows and requires a matching schema.
    `description` is recorded as the commit's `userMetadata` (shown by DESCRIBE HISTORY).
    """
    if _is_local(uri):
        _local_path(uri).parent.mkdir(parents=True, exist_ok=True)
    target = _delta_rs_uri(uri)
    commit = (
        CommitProperties(custom_metadata={"userMetadata": description}) if description else None
    )
    write_deltalake(
        target,
        table,
        mode=mode,
        partition_by=partition_by,
        # An overwrite is a new definition of the table: let the schema (and partitioning) change.
        schema_mode="overwrite" if mode == "overwrite" else None,
        storage_options=storage_options,
        commit_properties=commit,
    )
    return int(DeltaTable(target, storage_options=storage_options).version())


def write_table(
    df: DataFrame,
    uri: str,
    *,
    mode: WriteMode = "overwrite",
    partition_by: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
    description: str | None = None,
) -> int:
    """Write a Spark DataFrame as a Delta table version; return the new version.

    Without the Delta connector the frame is collected to the driver as Arrow and committed
    with delta-rs, so it must fit in driver memory.
    """
    spark = df.sparkSession
    if not uses_delta_connector(spark):
        return write_arrow(
            df.toArrow(),
            uri,
            mode=mode,
            partition_by=partition_by,
            storage_options=storage_options,
            description=description,
        )
    writer = df.write.format("delta").mode(mode)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    if description:
        writer = writer.option("userMetadata", description)
    writer.save(_spark_uri(uri))
    return _connector_version(spark, uri)


def read_table(
    spark: SparkSession,
    uri: str,
    *,
    version: int | None = None,
    storage_options: dict[str, str] | None = None,
) -> DataFrame:
    """Read the table at `uri` (the latest version, or `version`) as a Spark DataFrame."""
    if uses_delta_connector(spark):
        return _connector_read(spark, uri, version)

    table = _open(uri, version, storage_options)
    _check_readable(table, uri)
    schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))
    groups = _live_files(table, _spark_uri(uri))
    if not groups:
        return spark.createDataFrame([], schema)
    partition_columns = set(table.metadata().partition_columns)
    data_schema = StructType([f for f in schema.fields if f.name not in partition_columns])
    frames = []
    # Partition values live in the log, not in the files: add them as literal columns per group.
    for values, files in groups.items():
        frame = spark.read.schema(data_schema).parquet(*files)
        for name, value in values:
            frame = frame.withColumn(name, F.lit(value).cast(schema[name].dataType))
        frames.append(frame.select(*schema.fieldNames()))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def read_arrow(
    uri: str,
    *,
    version: int | None = None,
    columns: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
) -> pa.Table:
    """Read the table at `uri` (optionally a `version` and a subset of `columns`) into Arrow.

    The read runs in delta-rs's own engine (DataFusion). Not `DeltaTable.to_pyarrow_table()`:
    that scans through a Python filesystem handler, and Arrow's I/O threads that still hold a
    Python file when the interpreter exits abort the process ("terminate called without an
    active exception"; apache/arrow#45017, delta-rs#2184). See docs/experiments.md.
    """
    table = _open(uri, version, storage_options)
    schema = pa.schema(table.schema().to_arrow())
    if columns is not None:
        missing = [name for name in columns if name not in schema.names]
        if missing:
            raise ValueError(f"{uri!r} has no column(s) {missing}; it has {schema.names}")
        schema = pa.schema([schema.field(name) for name in columns])
    selection = ", ".join(_sql_identifier(name) for name in schema.names)
    reader = QueryBuilder(_QUERY_CONFIG).register("t", table).execute(f"SELECT {selection} FROM t")
    # DataFusion answers with view types (string_view...): give back the table's own types.
    return pa.table(reader).cast(schema)


def _sql_identifier(name: str) -> str:
    """A column name quoted for DataFusion SQL (double quotes, case kept)."""
    return '"' + name.replace('"', '""') + '"'


def delete_rows(
    uri: str,
    predicate: str,
    storage_options: dict[str, str] | None = None,
    *,
    spark: SparkSession | None = None,
) -> int:
    """Delete the rows matching the SQL `predicate`; return how many were deleted.

    Build literals with `sql_string_literal`. Pass `spark` so that a session with the Delta
    connector deletes through Spark.
    """
    if spark is not None and uses_delta_connector(spark):
        return _connector_delete(spark, uri, predicate)
    table = _open(uri, None, storage_options)
    return int(table.delete(predicate)["num_deleted_rows"])


def merge_table(
    df: DataFrame,
    uri: str,
    *,
    key: str,
    storage_options: dict[str, str] | None = None,
) -> dict[str, int]:
    """Upsert `df` into the table at `uri` on the column `key` (created if missing).

    Rows whose key exists are replaced, the others inserted, so writing the same rows twice
    leaves one row per key. Keys must be unique in `df`. Returns the new table version and the
    counts of inserted and updated rows.
    """
    spark = df.sparkSession
    if uses_delta_connector(spark):
        return _connector_merge(df, uri, key)
    source = df.toArrow()
    if not table_exists(uri, storage_options):
        version = write_arrow(source, uri, mode="overwrite", storage_options=storage_options)
        return {"version": version, "inserted": source.num_rows, "updated": 0}
    table = _open(uri, None, storage_options)
    quoted = f"`{key}`"
    metrics = (
        table.merge(
            source,
            predicate=f"t.{quoted} = s.{quoted}",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return {
        "version": int(_open(uri, None, storage_options).version()),
        "inserted": int(metrics.get("num_target_rows_inserted", 0)),
        "updated": int(metrics.get("num_target_rows_updated", 0)),
    }


def committed_transaction(
    uri: str, app_id: str, storage_options: dict[str, str] | None = None
) -> int | None:
    """The last version an application committed to the table with `append_once`, or None."""
    if not table_exists(uri, storage_options):
        return None
    version = _open(uri, None, storage_options).transaction_version(app_id)
    return None if version is None else int(version)


def append_once(
    df: DataFrame,
    uri: str,
    *,
    app_id: str,
    txn_version: int,
    storage_options: dict[str, str] | None = None,
) -> bool:
    """Append `df` unless application `app_id` already committed `txn_version` or later.

    The application transaction (app id, version) is committed atomically with the rows, so a
    retried write of the same version (a replayed streaming micro-batch) is skipped: exactly-once.
    The check and the commit use one table snapshot: if another writer commits the same app id
    after that snapshot, delta-rs rejects this commit (a concurrent-transaction conflict) and the
    next attempt sees the transaction and skips, so two drivers replaying one batch append it once.
    Returns True when rows were committed now. Without the connector the frame is collected to the
    driver.
    """
    spark = df.sparkSession
    if uses_delta_connector(spark):
        # Delta's own idempotent writes: the connector skips a (txnAppId, txnVersion) it has seen.
        df.write.format("delta").mode("append").option("txnAppId", app_id).option(
            "txnVersion", txn_version
        ).save(_spark_uri(uri))
        return True
    return append_arrow_once(
        df.toArrow(), uri, app_id=app_id, txn_version=txn_version, storage_options=storage_options
    )


def append_arrow_once(
    rows: pa.Table,
    uri: str,
    *,
    app_id: str,
    txn_version: int,
    storage_options: dict[str, str] | None = None,
) -> bool:
    """`append_once` for an Arrow table, with delta-rs (no Spark): same exactly-once rule."""
    for _ in range(_APPEND_ONCE_ATTEMPTS):
        snapshot = _snapshot_for_append(uri, rows.schema, storage_options)
        done = snapshot.transaction_version(app_id)
        if done is not None and done >= txn_version:
            return False
        try:
            write_deltalake(
                snapshot,
                rows,
                mode="append",
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(app_id=app_id, version=txn_version)]
                ),
            )
            return True
        except CommitFailedError:
            continue  # another writer committed first: check again on a newer snapshot
    raise RuntimeError(f"append to {uri!r} lost {_APPEND_ONCE_ATTEMPTS} commit races in a row")


def _snapshot_for_append(
    uri: str, schema: pa.Schema, storage_options: dict[str, str] | None
) -> DeltaTable:
    """The table's latest snapshot; a missing table is first created empty."""
    target = _delta_rs_uri(uri)
    if not DeltaTable.is_deltatable(target, storage_options=storage_options):
        if _is_local(uri):
            _local_path(uri).parent.mkdir(parents=True, exist_ok=True)
        # Empty, so that rows are only ever committed against a snapshot: writers racing to
        # create the table each commit metadata alone, then their appends conflict as usual.
        try:
            DeltaTable.create(target, schema=schema, mode="ignore", storage_options=storage_options)
        except DeltaError:
            if not DeltaTable.is_deltatable(target, storage_options=storage_options):
                raise  # not a lost creation race
    return DeltaTable(target, storage_options=storage_options)


# --------------------------------------------------------------------------- connector mode


def _sql_path(uri: str) -> str:
    return "delta.`" + _spark_uri(uri).replace("`", "``") + "`"


def _is_missing_table_error(exc: Exception) -> bool:
    text = str(exc)
    markers = (
        "DELTA_MISSING_DELTA_TABLE",
        "DELTA_PATH_DOES_NOT_EXIST",
        "PATH_NOT_FOUND",
        "is not a Delta table",
    )
    return any(marker in text for marker in markers)


def _connector_read(spark: SparkSession, uri: str, version: int | None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    try:
        return reader.load(_spark_uri(uri))
    except AnalysisException as exc:
        if _is_missing_table_error(exc):
            raise _not_found(uri) from exc
        raise


def _connector_version(spark: SparkSession, uri: str) -> int:
    return int(spark.sql(f"DESCRIBE HISTORY {_sql_path(uri)} LIMIT 1").first()["version"])


def _connector_delete(spark: SparkSession, uri: str, predicate: str) -> int:
    try:
        rows = spark.sql(f"DELETE FROM {_sql_path(uri)} WHERE {predicate}").collect()
    except AnalysisException as exc:
        if _is_missing_table_error(exc):
            raise _not_found(uri) from exc
        raise
    if rows and "num_affected_rows" in rows[0].asDict():
        return int(rows[0]["num_affected_rows"])
    # Older connectors return no row count: take it from the commit's metrics.
    last = spark.sql(f"DESCRIBE HISTORY {_sql_path(uri)} LIMIT 1").first()
    return int((last["operationMetrics"] or {}).get("numDeletedRows", 0))


def _connector_merge(df: DataFrame, uri: str, key: str) -> dict[str, int]:
    spark = df.sparkSession
    try:
        version = _connector_version(spark, uri)
    except AnalysisException as exc:
        if not _is_missing_table_error(exc):
            raise
        version = None
    if version is None:
        rows = df.count()
        df.write.format("delta").mode("overwrite").save(_spark_uri(uri))
        return {"version": _connector_version(spark, uri), "inserted": rows, "updated": 0}
    view = f"textrepair_merge_source_{abs(hash(uri))}"
    df.createOrReplaceTempView(view)
    quoted = f"`{key}`"
    spark.sql(
        f"MERGE INTO {_sql_path(uri)} t USING {view} s ON t.{quoted} = s.{quoted} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    last = spark.sql(f"DESCRIBE HISTORY {_sql_path(uri)} LIMIT 1").first()
    metrics = last["operationMetrics"] or {}
    return {
        "version": int(last["version"]),
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
    }
