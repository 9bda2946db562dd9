"""Idempotent writes of textrepair.data.tables: merge on a key, and append-once per transaction."""

from __future__ import annotations

import pytest

from textrepair.data.tables import append_once, committed_transaction, merge_table, read_arrow

pytestmark = pytest.mark.spark


def _rows(spark, pairs):
    return spark.createDataFrame(pairs, "id string, value string")


def test_merge_inserts_then_replaces_on_the_key(spark, tmp_path):
    uri = str(tmp_path / "predictions")
    first = merge_table(_rows(spark, [("a", "1"), ("b", "1")]), uri, key="id")
    assert (first["inserted"], first["updated"]) == (2, 0)

    again = merge_table(_rows(spark, [("b", "2"), ("c", "2")]), uri, key="id")
    assert (again["inserted"], again["updated"]) == (1, 1)
    assert again["version"] == first["version"] + 1
    rows = sorted(read_arrow(uri).to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": "a", "value": "1"}, {"id": "b", "value": "2"}, {"id": "c", "value": "2"}]


def test_append_once_skips_a_replayed_transaction(spark, tmp_path):
    uri = str(tmp_path / "stream")
    assert committed_transaction(uri, "app") is None
    assert append_once(_rows(spark, [("a", "0")]), uri, app_id="app", txn_version=0)
    assert append_once(_rows(spark, [("b", "1")]), uri, app_id="app", txn_version=1)
    # A replay of batch 1 (and an older batch) after a crash: nothing is written.
    assert not append_once(_rows(spark, [("b", "1")]), uri, app_id="app", txn_version=1)
    assert not append_once(_rows(spark, [("a", "0")]), uri, app_id="app", txn_version=0)
    assert committed_transaction(uri, "app") == 1
    # Another application (a new query) has its own transaction counter.
    assert append_once(_rows(spark, [("c", "0")]), uri, app_id="other", txn_version=0)
    assert sorted(r["id"] for r in read_arrow(uri).to_pylist()) == ["a", "b", "c"]
    # An empty batch still records its transaction.
    assert append_once(_rows(spark, []), uri, app_id="app", txn_version=2)
    assert committed_transaction(uri, "app") == 2
