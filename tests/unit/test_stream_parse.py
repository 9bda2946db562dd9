"""The stream's line contract, metrics formats and the producer's landing files (no Spark)."""

from __future__ import annotations

import json

import pytest

from textrepair.stages.stream import (
    REASONS,
    StreamTotals,
    parse_line,
    produce,
    progress_line,
    write_metrics,
)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "a", "text": "fine"}', ""),
        ('{"id": 7, "text": "an integer id is fine", "extra": 1}', ""),
        ('{"id": "a", "text": ""}', ""),  # empty text is valid: it is repaired to itself
        ("not json", "bad_json"),
        ('{"id": "a", "text": "unterminated', "bad_json"),
        ("", "bad_json"),
        ('["a", "b"]', "not_an_object"),
        ('{"text": "no id"}', "missing_id"),
        ('{"id": null, "text": "null id"}', "missing_id"),
        ('{"id": "", "text": "empty id"}', "missing_id"),
        ('{"id": 1.5, "text": "float id"}', "bad_id"),
        ('{"id": true, "text": "bool id"}', "bad_id"),
        ('{"id": {"a": 1}, "text": "object id"}', "bad_id"),
        ('{"id": "a"}', "missing_text"),
        ('{"id": "a", "text": null}', "missing_text"),
        ('{"id": "a", "text": 12}', "non_string_text"),
        ('{"id": "a", "text": ["x"]}', "non_string_text"),
        ('{"id": "a", "text": "' + "x" * 51 + '"}', "oversize_text"),
    ],
)
def test_each_line_is_accepted_or_gets_a_reason(line, reason):
    row_id, text, got, detail = parse_line(line, max_chars=50)
    assert got == reason
    assert got in (*REASONS, "")
    if reason:
        assert detail and text is None
    else:
        assert text == json.loads(line)["text"] and row_id == str(json.loads(line)["id"])


def test_metrics_are_json_and_prometheus_text(tmp_path):
    totals = StreamTotals(batches=2, lines=12, predictions=10, quarantined=2)
    totals.quarantine_reasons = {"bad_json": 2}
    last = {
        "batch_id": 1,
        "predictions": 5,
        "quarantined": 1,
        "duration_seconds": 1.5,
        "rows_per_second": 4.0,
        "latency_p50_seconds": 2.0,
        "latency_max_seconds": 2.5,
    }
    snapshot = {"totals": vars(totals), "last_batch": last}
    path = tmp_path / "m" / "stream.json"
    write_metrics(str(path), snapshot)
    assert json.loads(path.read_text())["totals"]["predictions"] == 10
    prom = path.with_suffix(".prom").read_text().splitlines()
    assert "textrepair_stream_predictions_total 10" in prom
    assert 'textrepair_stream_quarantined_by_reason_total{reason="bad_json"} 2' in prom
    assert "textrepair_stream_last_batch_latency_max_seconds 2.5" in prom
    assert not list(path.parent.glob(".*.tmp"))  # written atomically
    line = progress_line(last, totals)
    assert "batch 1 committed" in line and "latency p50 2.00s max 2.50s" in line


def test_produce_writes_whole_files_at_the_rate(tmp_path):
    samples = [(f"g{i}", f"text number {i}") for i in range(25)]
    messages: list[str] = []
    result = produce(
        samples,
        tmp_path / "landing",
        rate=100.0,
        rows_per_file=10,
        prefix="t",
        echo=messages.append,
    )
    files = sorted((tmp_path / "landing").iterdir())
    assert [f.name for f in files] == ["t-00000.jsonl", "t-00001.jsonl", "t-00002.jsonl"]
    records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"t-{i:06d}" for i in range(25)]
    assert [r["text"] for r in records] == [text for _, text in samples]
    assert (result.files, result.rows) == (3, 25)
    assert "25 rows in 3 files" in messages[-1]
