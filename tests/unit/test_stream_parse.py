"""The stream's line contract, metrics formats and the producer's landing files (no Spark)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from textrepair.stages import stream
from textrepair.stages.produce import produce
from textrepair.stages.stream import (
    REASONS,
    StreamTotals,
    parse_line,
    progress_line,
    write_metrics,
)

DEEP = "[" * 100_000 + "]" * 100_000
# Lines that raised, or reached Arrow and failed the whole micro-batch, before issue 20.
HOSTILE_LINES = [
    (DEEP, "too_deep"),
    ('{"id": "a", "text": ' + DEEP + "}", "too_deep"),
    ('{"id": "\\ud800", "text": "lone surrogate in the id"}', "bad_unicode"),
    ('{"id": "a", "text": "lone \\udc00 surrogate"}', "bad_unicode"),
    ('{"id": "a", "text": "x", "n": 1e999}', "bad_number"),
    ('{"id": ' + "9" * 5000 + ', "text": "x"}', "bad_number"),
    ('{"id": "a", "text": "x", "n": NaN}', "bad_number"),
    ("42", "not_an_object"),
    ("null", "not_an_object"),
    (b'{"id": "a", "text": "caf\xe9"}', "bad_encoding"),  # cp1252 bytes
    (bytes(range(256)), "bad_encoding"),  # binary
]


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
        ('\ufeff{"id": "a", "text": "after a byte-order mark"}', ""),
        ('{"id": ' + "9" * 40 + ', "text": "a long integer id is fine"}', ""),
        *HOSTILE_LINES,
    ],
)
def test_each_line_is_accepted_or_gets_a_reason(line, reason):
    row_id, text, got, detail = parse_line(line, max_chars=50)
    assert got == reason
    assert got in (*REASONS, "")
    if reason:
        assert detail and text is None
    else:
        record = json.loads(line.removeprefix("\ufeff"))
        assert text == record["text"] and row_id == str(record["id"])


def test_utf8_bytes_parse_like_text():
    line = '{"id": "é", "text": "naïve"}'
    assert parse_line(line.encode(), 50) == parse_line(line, 50) == ("é", "naïve", "", "")


class _Repairer:
    """Repairs text to itself, and raises on a text containing 'boom' (a line the model
    cannot take)."""

    def repair(self, texts):
        if any("boom" in text for text in texts):
            raise RuntimeError("the tokenizer choked")
        return [SimpleNamespace(text=text, changed=False, edits=[]) for text in texts]


def test_hostile_lines_are_quarantined_and_the_batch_still_encodes(monkeypatch):
    monkeypatch.setattr(stream, "worker_repairer", lambda model: _Repairer())
    hostile = [line if isinstance(line, bytes) else line.encode() for line, _ in HOSTILE_LINES]
    lines = [b'{"id": "g1", "text": "fine"}', *hostile, b'{"id": "m", "text": "boom"}']
    lines.append(b'{"id": 2, "text": "also fine"}')
    landed = pd.Timestamp.now("UTC")
    batch = pd.DataFrame({"value": lines, "source_file": "file:/l/f.jsonl", "landed_at": landed})
    model = SimpleNamespace(version="v-test")

    out = stream._score_lines(batch, model, max_chars=50)

    # What Spark does with the frame: a string Arrow cannot encode would fail the micro-batch.
    table = pa.Table.from_pandas(out, schema=stream._SCORED_SCHEMA, preserve_index=False)
    rows = table.to_pylist()
    assert len(rows) == len(lines)
    assert [r["id"] for r in rows if r["reason"] is None] == ["g1", "2"]
    bad = [r for r in rows if r["reason"] is not None]
    expected = [reason for _, reason in HOSTILE_LINES] + ["unscorable"]
    assert [r["reason"] for r in bad] == expected
    assert all(r["detail"] and r["raw"] is not None for r in bad)
    assert all(len(r["raw"]) <= stream.RAW_CHARS for r in bad)
    assert bad[-1]["id"] == "m" and "choked" in bad[-1]["detail"]


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


def test_lines_of_a_symlink_out_of_the_landing_folder_are_quarantined_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "worker_repairer", lambda model: _Repairer())
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    landing.mkdir()
    outside.mkdir()
    (outside / "secret.jsonl").write_text('{"id": "s", "text": "a secret"}\n')
    (landing / "escape.jsonl").symlink_to(outside / "secret.jsonl")
    (landing / "own.jsonl").write_text('{"id": "o", "text": "mine"}\n')
    (landing / "alias.jsonl").symlink_to(landing / "own.jsonl")  # inside the folder: read
    names = ["escape.jsonl", "own.jsonl", "alias.jsonl"]
    batch = pd.DataFrame(
        {
            "value": [(landing / name).read_bytes().strip() for name in names],
            "source_file": [f"file://{landing / name}" for name in names],
            "landed_at": pd.Timestamp.now("UTC"),
        }
    )

    rows = stream._score_lines(batch, SimpleNamespace(version="v"), 50, str(landing)).to_dict(
        "records"
    )

    assert [(r["id"], r["reason"]) for r in rows] == [
        (None, "symlink_outside_landing"),
        ("o", None),
        ("o", None),
    ]
    assert rows[0]["raw"] == ""  # what the link points at is not kept
