"""Delta table I/O (textrepair.data.tables) on temporary paths, in delta-rs mode (no jars)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from textrepair.data import tables
from textrepair.data.tables import (
    TableNotFoundError,
    delete_rows,
    read_arrow,
    read_table,
    sql_string_literal,
    table_exists,
    table_version,
    write_arrow,
    write_table,
)

MUTATION = T.StructType(
    [
        T.StructField("type", T.StringType()),
        T.StructField("start", T.IntegerType()),
        T.StructField("length", T.IntegerType()),
        T.StructField("original", T.StringType()),
        T.StructField("replacement", T.StringType()),
    ]
)
SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("text", T.StringType()),
        T.StructField("split", T.StringType()),
        T.StructField("created_at", T.TimestampType()),
        T.StructField("local_time", T.TimestampNTZType()),
        T.StructField("day", T.DateType()),
        T.StructField("mutations", T.ArrayType(MUTATION)),
        T.StructField("counts", T.MapType(T.StringType(), T.IntegerType())),
    ]
)
ROWS = [
    (
        1,
        "hello world",
        "train",
        dt.datetime(2024, 5, 1, 12, 30, 15, 123456),
        dt.datetime(2024, 5, 1, 8, 0),
        dt.date(2024, 5, 1),
        [("deletion", 4, 2, "o ", ""), ("reversal", 6, 5, "world", "dlrow")],
        {"deletion": 1, "reversal": 1},
    ),
    (2, "it's fine", "test", dt.datetime(1999, 12, 31, 23, 59, 59), None, None, [], {}),
    (3, None, None, None, None, None, None, None),
]


def _frame(spark: SparkSession, rows: list[tuple] = ROWS) -> DataFrame:
    return spark.createDataFrame(rows, SCHEMA)


def _rows(df: DataFrame) -> list[dict]:
    return sorted((r.asDict(recursive=True) for r in df.collect()), key=lambda r: r["id"])


def _types(df: DataFrame) -> list[tuple[str, str]]:
    # Spark reports file-source columns as nullable, so compare names and types only.
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


# --------------------------------------------------------------------------- Spark round trips


@pytest.mark.spark
def test_roundtrip_keeps_types_and_values(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "lake" / "gold")  # parent directories do not exist yet
    df = _frame(spark)

    assert write_table(df, uri) == 0

    back = read_table(spark, uri)
    assert _types(back) == _types(df)
    assert _rows(back) == _rows(df)
    assert back.schema["mutations"].dataType.elementType.fieldNames() == MUTATION.fieldNames()


@pytest.mark.spark
def test_append_then_overwrite(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "silver")
    assert write_table(_frame(spark, ROWS[:2]), uri, mode="append") == 0  # creates the table
    assert write_table(_frame(spark, ROWS[2:]), uri, mode="append") == 1
    assert read_table(spark, uri).count() == 3

    assert write_table(_frame(spark, ROWS[:1]), uri, mode="overwrite") == 2
    assert [r["id"] for r in _rows(read_table(spark, uri))] == [1]
    assert table_version(uri) == 2


@pytest.mark.spark
def test_time_travel_reads_an_earlier_version(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "gold")
    write_table(_frame(spark), uri)
    # The overwrite also changes the schema: version 0 must keep its own.
    new = spark.createDataFrame([("x", 1.5)], "name string, score double")
    assert write_table(new, uri, mode="overwrite") == 1

    old = read_table(spark, uri, version=0)
    assert _types(old) == _types(_frame(spark))
    assert _rows(old) == _rows(_frame(spark))
    assert [tuple(r) for r in read_table(spark, uri).collect()] == [("x", 1.5)]
    assert read_arrow(uri, version=0).num_rows == len(ROWS)


@pytest.mark.spark
def test_reading_an_unknown_version_says_which_exist(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "gold")
    write_table(_frame(spark), uri)
    with pytest.raises(ValueError, match=r"version 5 .*0\.\.0"):
        read_table(spark, uri, version=5)


@pytest.mark.spark
def test_empty_table_reads_as_empty_frame_with_schema(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "quarantine")
    empty = spark.createDataFrame([], SCHEMA)

    assert write_table(empty, uri) == 0
    assert table_exists(uri)

    back = read_table(spark, uri)
    assert back.count() == 0
    assert _types(back) == _types(empty)


@pytest.mark.spark
def test_missing_table_error_names_uri_and_stage(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "lake" / "silver")
    with pytest.raises(TableNotFoundError) as info:
        read_table(spark, uri)
    assert isinstance(info.value, ValueError)
    assert uri in str(info.value)
    assert "silver stage" in str(info.value)
    assert not table_exists(uri)
    assert table_version(uri) is None


@pytest.mark.spark
def test_partitioned_table(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "gold")
    # Partition values that need escaping on disk, and a null partition.
    rows = [
        *ROWS,
        (4, "odd", "a b/c%[1]", None, None, None, None, None),
        (5, "also", "train", None, None, None, None, None),
    ]
    df = _frame(spark, rows)

    write_table(df, uri, partition_by=["split"])

    partition_dirs = {p.name for p in Path(uri).iterdir() if p.name.startswith("split=")}
    assert "split=train" in partition_dirs and len(partition_dirs) == 4
    back = read_table(spark, uri)
    assert back.columns == df.columns  # partition column stays in place
    assert _rows(back) == _rows(df)
    assert _rows(back.where("split = 'train'")) == _rows(df.where("split = 'train'"))


@pytest.mark.spark
def test_file_uri_and_plain_path_name_the_same_table(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "with space" / "bronze"
    write_table(_frame(spark), path.as_uri())
    assert table_version(str(path)) == 0
    assert _rows(read_table(spark, str(path))) == _rows(_frame(spark))


@pytest.mark.spark
def test_glob_characters_in_the_path_are_literal(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "runs{a,b}*?" / "gold")
    write_table(_frame(spark), uri, partition_by=["split"])
    assert _rows(read_table(spark, uri)) == _rows(_frame(spark))


@pytest.mark.spark
def test_delete_rows_then_spark_sees_remaining_rows(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "gold")
    write_table(_frame(spark), uri)

    deleted = delete_rows(uri, "text = " + sql_string_literal("it's fine"), spark=spark)

    assert deleted == 1
    assert [r["id"] for r in _rows(read_table(spark, uri))] == [1, 3]
    assert table_version(uri) == 1


@pytest.mark.spark
@pytest.mark.parametrize("value", ["plain", "it's", "''", "a\\b", "end\\", "\\'", "x\ny", ""])
def test_sql_string_literal_means_the_value_in_spark_sql(spark: SparkSession, value: str) -> None:
    assert spark.sql(f"SELECT {sql_string_literal(value)} AS v").first()["v"] == value


# --------------------------------------------------------------------------- driver side (no Spark)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("abc", "'abc'"),
        ("it's", "'it''s'"),
        ("a\\b", "concat('a', chr(92), 'b')"),
    ],
)
def test_sql_string_literal_quotes(value: str, literal: str) -> None:
    assert sql_string_literal(value) == literal


def test_delete_rows_with_quoted_literals(tmp_path: Path) -> None:
    uri = str(tmp_path / "silver")
    texts = ["it's", "a\\b", "end\\", "plain", "it''s"]
    write_arrow(pa.table({"id": list(range(len(texts))), "text": texts}), uri)

    for text in ["it's", "a\\b", "end\\"]:
        assert delete_rows(uri, f"text = {sql_string_literal(text)}") == 1
    assert delete_rows(uri, f"text = {sql_string_literal('absent')}") == 0

    assert read_arrow(uri, columns=["text"]).column("text").to_pylist() == ["plain", "it''s"]


def test_delete_rows_on_missing_table(tmp_path: Path) -> None:
    with pytest.raises(TableNotFoundError, match="gold stage"):
        delete_rows(str(tmp_path / "gold"), "id = 1")


def test_write_arrow_versions_and_read_arrow_columns(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake" / "prediction_log")
    first = pa.table({"id": [1, 2], "text": ["a", "b"], "score": [0.5, 0.25]})

    assert write_arrow(first, uri, mode="append", description="first batch") == 0
    assert write_arrow(first, uri, mode="append") == 1

    subset = read_arrow(uri, columns=["text", "id"])
    assert subset.column_names == ["text", "id"]
    assert sorted(subset.column("id").to_pylist()) == [1, 1, 2, 2]
    assert read_arrow(uri, version=0).num_rows == 2
    history = tables.DeltaTable(uri).history()
    assert history[-1]["userMetadata"] == "first batch"


def test_write_arrow_normalises_timestamps_to_utc_microseconds(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    moment = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    ts = pa.array([moment], pa.timestamp("ns", tz="Europe/Berlin"))
    write_arrow(pa.table({"ts": ts}), uri)

    back = read_arrow(uri).column("ts")
    assert back.type == pa.timestamp("us", tz="UTC")
    assert back.to_pylist() == [moment]


def test_read_arrow_scans_through_no_python_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow's threads that drop a Python file object during interpreter exit abort the process
    # (issue 20, docs/experiments.md): reads must stay in native code.
    import pyarrow.fs

    made: list[object] = []
    real = pyarrow.fs.PyFileSystem

    def counting(handler: object) -> pyarrow.fs.PyFileSystem:
        made.append(handler)
        return real(handler)

    monkeypatch.setattr(pyarrow.fs, "PyFileSystem", counting)
    uri = str(tmp_path / "predictions")
    write_arrow(pa.table({"id": [1, 2], "split": ["a", None]}), uri, partition_by=["split"])

    assert read_arrow(uri).num_rows == 2
    assert read_arrow(uri, version=0, columns=["id"]).num_rows == 2
    assert made == []


def test_read_arrow_missing_table(tmp_path: Path) -> None:
    uri = str(tmp_path / "nothing_here")
    with pytest.raises(TableNotFoundError, match="nothing_here"):
        read_arrow(uri)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3a://bucket/lake/gold", "s3://bucket/lake/gold"),
        ("s3://bucket/lake/gold/", "s3://bucket/lake/gold"),
        (
            "abfss://c@acct.dfs.core.windows.net/lake/gold",
            "abfss://c@acct.dfs.core.windows.net/lake/gold",
        ),
        ("file:///tmp/lake/gold", "/tmp/lake/gold"),
        ("file:///tmp/with%20space", "/tmp/with space"),
        ("/tmp/lake/gold", "/tmp/lake/gold"),
    ],
)
def test_delta_rs_uri(uri: str, expected: str) -> None:
    assert tables._delta_rs_uri(uri) == expected


@pytest.mark.parametrize("name", ["runs[1]", "50%41"])
def test_local_paths_delta_rs_mishandles_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="delta-rs cannot use local paths"):
        write_arrow(pa.table({"a": [1]}), str(tmp_path / name / "t"))


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert tables._delta_rs_uri("lake/gold") == str(tmp_path / "lake" / "gold")
    assert tables._spark_uri("lake/gold") == "file://" + str(tmp_path / "lake" / "gold")
