"""Balancing silver by source, and the source carried into every gold row."""

from __future__ import annotations

from textrepair.stages.corrupt import balance, corrupt_frame, split_of

SIZES = {"kjv": 120, "docstrings": 40, "landing": 6}


def silver_frame(spark):
    rows = [
        (f"{source}_{i:04d}", f"Window {i} of {source}: some words to repair.", source)
        for source, n in SIZES.items()
        for i in range(n)
    ]
    return spark.createDataFrame(rows, "window_id string, text string, source string")


def kept(frame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in frame.collect():
        out.setdefault(row["source"], set()).add(row["window_id"])
    return out


def test_balancing_respects_the_caps_and_is_seeded(spark):
    silver = silver_frame(spark)
    caps = {"kjv": 25, "docstrings": 100}  # docstrings has fewer: all kept; landing: no cap
    first = kept(balance(silver, caps, seed=1))
    assert {s: len(ids) for s, ids in first.items()} == {"kjv": 25, "docstrings": 40, "landing": 6}
    assert kept(balance(silver.repartition(5), caps, seed=1)) == first  # not partitioning
    other = kept(balance(silver, caps, seed=2))
    assert other["kjv"] != first["kjv"] and len(other["kjv"]) == 25
    assert kept(balance(silver, {}, seed=1)) == kept(silver)


def test_every_gold_row_keeps_its_source_and_the_split_stays_by_hash(spark, settings):
    silver = silver_frame(spark)
    sources = {row["window_id"]: row["source"] for row in silver.collect()}
    gold = corrupt_frame(silver, settings).collect()
    assert {row["source"] for row in gold} == set(SIZES)
    for row in gold:
        assert row["source"] == sources[row["id"].split("-")[0]]  # single-type ids: <id>-<type>
        assert row["split"] == split_of(row["clean"], settings.gold)
