"""Ingest keeps bronze in step with its sources: old schemas are rebuilt, gone built-ins removed."""

from __future__ import annotations

import pyarrow as pa

from textrepair.data import tables
from textrepair.stages.ingest import BRONZE_SCHEMA, run_ingest


def bronze_row(**values) -> dict:
    row = dict.fromkeys(BRONZE_SCHEMA.names)
    return {**row, "doc_id": "d0", "record": "", "text": "Old text.", **values}


def test_an_old_bronze_is_rebuilt_and_rows_of_a_gone_builtin_are_removed(spark, settings):
    uri = settings.lake_path("bronze")
    old = pa.Table.from_pylist([bronze_row(source="user", path="/old/a.txt")], BRONZE_SCHEMA)
    tables.write_arrow(old.drop_columns(["source_version"]), uri)  # written before the column

    first = run_ingest(settings, spark)
    bronze = tables.read_arrow(uri, columns=["path", "source", "source_version"])
    assert first.documents_removed == 1
    assert set(bronze["source"].to_pylist()) == {"landing"}
    assert "/old/a.txt" not in bronze["path"].to_pylist()

    gone = bronze_row(source="pydoc", path="/python3.0/pydoc_data/topics.py", source_version="x")
    tables.write_arrow(pa.Table.from_pylist([gone], BRONZE_SCHEMA), uri, mode="append")
    second = run_ingest(settings, spark)
    assert (second.files_removed, second.documents_removed, second.files_ingested) == (1, 1, 0)
    assert tables.read_arrow(uri, columns=["path"]).num_rows == bronze.num_rows
