"""Evaluation metrics, bootstrap intervals, the report's shape, and the plots."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from textrepair.config import MutationSpec, MutationType
from textrepair.data.mutations import Mutator, row_rng
from textrepair.lifecycle.baselines import identity
from textrepair.lifecycle.evaluation import (
    METRICS,
    EvalConfig,
    bucket_names,
    bucket_of,
    build_report,
    cer,
    evaluate_predictions,
    evaluate_system,
    plot_cer_by_type,
    predict_unique,
    render_markdown,
    sample_test_rows,
    wer,
    write_report,
)
from textrepair.lifecycle.trainrun import plot_training_curves

TYPES = [t.value for t in MutationType]
MAIN_PROFILE = {t: MutationSpec(rate=2.0, mean_length=2.0, max_length=6) for t in MutationType}
SINGLE_PROFILES = {
    t.value: {t: MutationSpec(rate=4.0, mean_length=2.5, max_length=6)} for t in MutationType
}
_VOCABULARY = """
the and of to that in he shall unto for his lord they be is him not them it with all thou
thy was god which my me said but ye their have will thee from as are when this out were upon
"""
WORDS = _VOCABULARY.split()
BUCKETS = ["0-63", "64-127", "128-191", "192+"]
FAST = EvalConfig(n_resamples=200, progress=False)


def sentence(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def gold_row(row_id: str, clean: str, corrupted: str, events: list, profile: str) -> dict:
    mutations = [e.to_dict() for e in events]
    return {"id": row_id, "clean": clean, "corrupted": corrupted, "mutations": mutations,
            "profile": profile, "split": "test"}  # fmt: skip


def make_gold(n: int = 40, seed: int = 7, clean_every: int = 4) -> list[dict]:
    """Gold-like rows: main profile (every `clean_every`-th left clean) plus single-type sets."""
    rng = random.Random(seed)
    main = Mutator(MAIN_PROFILE)
    singles = {name: Mutator(profile) for name, profile in SINGLE_PROFILES.items()}
    rows = []
    for k in range(n):
        clean, row_id = sentence(rng, 20 + (k * 233) % 240), f"r{k}"
        if k % clean_every == 0:
            corrupted, events = clean, []
        else:
            corrupted, events = main.mutate(clean, row_rng(seed, row_id, "default"))
        rows.append(gold_row(row_id, clean, corrupted, events, "default"))
        for name, mutator in singles.items():
            corrupted, events = mutator.mutate(clean, row_rng(seed, row_id, name))
            rows.append(gold_row(f"{row_id}-{name}", clean, corrupted, events, name))
    return rows


def main_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["profile"] == "default"]


def oracle(gold: list[dict]):
    answers = {r["corrupted"]: r["clean"] for r in gold}
    return lambda texts: [answers[t] for t in texts]


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return make_gold()


# --- single-pair metrics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("hello world", "hello world", 0.0),
        ("hello world", "hellorld", 3 / 11),  # deletion of "o w"
        ("hello world", "hello dlrow", 4 / 11),  # reversal: 4 substitutions
        ("abcd", "abXd", 1 / 4),
        ("ab", "abcdef", 2.0),  # insertions can push CER above 1
        ("", "", 0.0),
        ("", "x", 1.0),
    ],
)
def test_cer_of_known_edits(reference, hypothesis, expected):
    assert cer(reference, hypothesis) == pytest.approx(expected)


def test_wer_counts_words():
    assert wer("the cat sat", "the cat sat") == 0
    assert wer("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    assert wer("the cat sat", "the cat") == pytest.approx(1 / 3)
    assert wer("a b", "") == 1.0
    assert wer("", "") == 0.0


# --- one system on rows --------------------------------------------------------------------------


def test_corpus_level_rates_on_hand_computed_rows():
    rows = [
        {"clean": "abcd", "corrupted": "abd", "mutations": [{"type": "deletion"}]},
        {"clean": "xyz", "corrupted": "xyz", "mutations": []},
    ]
    metrics = evaluate_predictions(rows, ["abcd", "xyZ"], n_resamples=50)
    assert metrics["cer_in"]["value"] == pytest.approx(1 / 7)  # sums, not a mean of row rates
    assert metrics["cer_out"]["value"] == pytest.approx(1 / 7)
    assert metrics["cer_reduction"]["value"] == pytest.approx(0.0)
    assert metrics["exact_match"]["value"] == pytest.approx(0.5)
    assert metrics["broken_rate"]["value"] == pytest.approx(1 / 3)
    assert (metrics["n_rows"], metrics["n_clean_rows"]) == (2, 1)


def test_identity_reduces_nothing_and_breaks_nothing(gold):
    rows = main_rows(gold)
    metrics = evaluate_predictions(rows, [r["corrupted"] for r in rows], n_resamples=100)
    assert metrics["cer_in"]["value"] > 0
    assert metrics["cer_out"]["value"] == metrics["cer_in"]["value"]
    assert metrics["cer_reduction"]["value"] == 0.0
    assert metrics["broken_rate"]["value"] == 0.0
    clean_share = sum(not r["mutations"] for r in rows) / len(rows)
    assert metrics["exact_match"]["value"] == pytest.approx(clean_share, abs=1e-6)


def test_oracle_reduces_everything(gold):
    rows = main_rows(gold)
    metrics = evaluate_predictions(rows, [r["clean"] for r in rows], n_resamples=100)
    assert metrics["cer_out"]["value"] == 0.0
    assert metrics["wer_out"]["value"] == 0.0
    assert metrics["cer_reduction"]["value"] == 1.0
    assert metrics["exact_match"]["value"] == 1.0


def test_a_system_that_uppercases_breaks_clean_text(gold):
    rows = main_rows(gold)
    metrics = evaluate_predictions(rows, [r["corrupted"].upper() for r in rows], n_resamples=100)
    clean = [r["clean"] for r in rows if not r["mutations"]]
    expected = sum(sum(a != b for a, b in zip(t, t.upper(), strict=True)) for t in clean)
    assert metrics["broken_rate"]["value"] == pytest.approx(expected / sum(map(len, clean)))
    assert metrics["broken_rate"]["value"] > 0.5


def half_oracle(rows: list[dict]) -> list[str]:
    """Repairs every other row: the metrics then vary between rows, so intervals have width."""
    return [r["clean"] if k % 2 else r["corrupted"] for k, r in enumerate(rows)]


def test_bootstrap_interval_contains_estimate_and_narrows_with_more_rows():
    few = main_rows(make_gold(n=12, seed=1))
    many = main_rows(make_gold(n=240, seed=1))
    small = evaluate_predictions(few, half_oracle(few), n_resamples=400)
    large = evaluate_predictions(many, half_oracle(many), n_resamples=400)
    for metrics in (small, large):
        for name in ("cer_in", "cer_out", "cer_reduction", "wer_out", "exact_match"):
            lo, hi = metrics[name]["ci"]
            assert lo <= metrics[name]["value"] <= hi, name
    for name in ("cer_out", "cer_reduction", "exact_match"):
        width_small = small[name]["ci"][1] - small[name]["ci"][0]
        width_large = large[name]["ci"][1] - large[name]["ci"][0]
        assert width_large < width_small / 2, name  # ~sqrt(20) narrower


def test_bootstrap_is_deterministic_for_a_seed(gold):
    rows = main_rows(gold)
    predictions = half_oracle(rows)
    first = evaluate_predictions(rows, predictions, n_resamples=100, seed=3)
    assert evaluate_predictions(rows, predictions, n_resamples=100, seed=3) == first
    assert evaluate_predictions(rows, predictions, n_resamples=100, seed=4) != first


def test_undefined_metrics_are_none():
    rows = [{"clean": "abc", "corrupted": "abc", "mutations": [{"type": "x"}]}]
    metrics = evaluate_predictions(rows, ["abc"], n_resamples=20)
    assert metrics["broken_rate"] == {"value": None, "ci": None}  # no clean rows
    assert metrics["cer_reduction"]["value"] is None  # nothing was damaged
    empty = evaluate_predictions([], [], n_resamples=20)
    assert empty["n_rows"] == 0 and empty["cer_out"]["value"] is None


def test_length_buckets():
    assert bucket_names((64, 128, 192)) == BUCKETS
    assert [bucket_of(n, (64, 128, 192)) for n in (0, 63, 64, 191, 192, 5000)] == [
        "0-63", "0-63", "64-127", "128-191", "192+", "192+"
    ]  # fmt: skip


# --- systems -------------------------------------------------------------------------------------


def test_predict_unique_calls_once_per_distinct_input_in_batches():
    calls: list[list[str]] = []

    def fake(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        return [t.upper() for t in texts]

    out = predict_unique(fake, ["b", "a", "b", "cc", "a", "d"], batch_size=2, progress=False)
    assert out == {"a": "A", "b": "B", "cc": "CC", "d": "D"}
    assert sorted(t for batch in calls for t in batch) == ["a", "b", "cc", "d"]
    assert max(map(len, calls)) <= 2


def test_predict_unique_rejects_a_wrong_number_of_outputs():
    with pytest.raises(ValueError, match="2 inputs gave 1 outputs"):
        predict_unique(lambda texts: texts[:1], ["a", "b"], progress=False)


def test_evaluate_system_covers_main_types_and_lengths(gold):
    seen: list[str] = []

    def system(texts: list[str]) -> list[str]:
        seen.extend(texts)
        return list(texts)

    result = evaluate_system("identity", system, gold, FAST)
    assert len(seen) == len(set(seen)) == len({r["corrupted"] for r in gold})
    assert set(METRICS) <= set(result)
    assert result["n_rows"] == len(main_rows(gold))
    assert set(result["per_type"]) == set(TYPES)
    assert set(result["by_length"]) == set(BUCKETS)
    assert sum(b["n_rows"] for b in result["by_length"].values()) == result["n_rows"]
    for metrics in result["per_type"].values():
        assert metrics["cer_reduction"]["value"] == 0.0


def test_evaluate_system_needs_main_profile_test_rows(gold):
    with pytest.raises(ValueError, match="no gold rows"):
        evaluate_system("x", identity, gold, EvalConfig(main_profile="heavy", progress=False))


# --- report and plots ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(gold) -> dict:
    baselines = {"identity": identity, "symspell": lambda texts: [t.lower() for t in texts]}
    return build_report(oracle(gold), gold, FAST, baselines=baselines)


def test_report_json_has_the_agreed_structure(report, tmp_path):
    json_path, _ = write_report(report, tmp_path / "reports")
    assert json_path == tmp_path / "reports" / "evaluation.json"
    data = json.loads(json_path.read_text())
    assert set(data) == {"split", "model", "baselines"} and data["split"] == "test"
    assert set(data["baselines"]) == {"identity", "symspell"}
    for result in [data["model"], *data["baselines"].values()]:
        for name in METRICS:
            assert set(result[name]) == {"value", "ci"}
        assert set(result["per_type"]) == set(TYPES)
        assert set(result["by_length"]) == set(BUCKETS)
        for metrics in [*result["per_type"].values(), *result["by_length"].values()]:
            assert set(METRICS) <= set(metrics)
    assert data["model"]["cer_reduction"]["value"] == 1.0
    assert data["baselines"]["identity"]["cer_reduction"]["value"] == 0.0


def test_markdown_report_is_readable(report, tmp_path):
    _, md_path = write_report(report, tmp_path)
    text = md_path.read_text()
    assert text.startswith("# Evaluation")
    for line in ("| model |", "| identity |", "| symspell |", "## CER out by mutation type"):
        assert line in text
    assert "| system | deletion | substitution | insertion | duplication | reversal |" in text
    assert "| system | 0-63 | 64-127 | 128-191 | 192+ |" in text


def test_a_validation_report_scores_validation_rows_and_says_so(gold):
    validation = [{**row, "split": "validation"} for row in gold[: len(gold) // 2]]
    config = dataclasses.replace(FAST, split="validation")
    report = build_report(identity, gold[len(gold) // 2 :] + validation, config, baselines={})
    assert report["split"] == "validation"
    assert report["model"]["n_rows"] == len(main_rows(validation))
    assert "Main-profile validation rows" in render_markdown(report)


def test_markdown_from_a_saved_report_keeps_type_and_size_order(report, tmp_path):
    json_path, _ = write_report(report, tmp_path)
    text = render_markdown(json.loads(json_path.read_text()))  # JSON keys come back sorted
    assert "| system | deletion | substitution | insertion | duplication | reversal |" in text
    assert "| system | 0-63 | 64-127 | 128-191 | 192+ |" in text


def test_plots_are_written(report, tmp_path):
    path = plot_cer_by_type(report, tmp_path / "plots" / "cer_by_type.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000
    history = [
        {"loss": 2.5, "step": 10},
        {"loss": 1.9, "step": 20},
        {"eval_loss": 2.0, "step": 20},
        {"loss": 1.2, "step": 30},
        {"eval_loss": 1.4, "step": 30},
        {"train_runtime": 12.0, "step": 30},
    ]
    curves = plot_training_curves(history, tmp_path / "curves.png")
    assert curves.read_bytes().startswith(b"\x89PNG")
    assert plot_training_curves([], tmp_path / "empty.png").stat().st_size > 0


# --- by corpus source ----------------------------------------------------------------------------

SOURCES = ("docstrings", "kjv", "landing")


def with_sources(rows: list[dict]) -> list[dict]:
    """Rows labelled by source from their window number: 1 in 10 is landing, then alternate."""

    def source(row_id: str) -> str:
        k = int(row_id.split("-")[0][1:])
        return "landing" if k % 10 == 3 else SOURCES[k % 2]

    return [{**row, "source": source(row["id"])} for row in rows]


def test_evaluation_by_source_has_one_row_per_source_and_the_rows_add_up(gold):
    rows = with_sources(gold)
    baselines = {"identity": identity}
    report = build_report(oracle(rows), rows, FAST, baselines=baselines)
    for result in (report["model"], report["baselines"]["identity"]):
        by_source = result["by_source"]
        assert list(by_source) == sorted(SOURCES)
        assert sum(m["n_rows"] for m in by_source.values()) == result["n_rows"]
        assert sum(m["n_clean_rows"] for m in by_source.values()) == result["n_clean_rows"]
        for metrics in by_source.values():
            assert set(METRICS) <= set(metrics)
            assert metrics["cer_in"]["ci"] is not None
    assert report["model"]["by_source"]["kjv"]["cer_out"]["value"] == 0.0
    text = render_markdown(report)
    assert "## By corpus source (main-profile test rows)" in text
    assert "by corpus source: docstrings" in text
    for source in SOURCES:
        for system in ("model", "identity"):
            assert (
                sum(line.startswith(f"| {source} | {system} |") for line in text.splitlines()) == 1
            )


def test_rows_without_a_source_are_one_unknown_group(gold):
    result = evaluate_system("identity", identity, gold, FAST)
    assert list(result["by_source"]) == ["unknown"]
    assert result["by_source"]["unknown"]["n_rows"] == result["n_rows"]


def test_sampling_gives_every_source_rows_and_the_same_windows_per_profile(gold):
    rows = with_sources(gold)
    sampled = sample_test_rows(rows, per_set=12)
    main = [r for r in sampled if r["profile"] == "default"]
    assert len(main) == 12
    counts = {s: sum(r["source"] == s for r in main) for s in SOURCES}
    assert counts == {"docstrings": 4, "kjv": 4, "landing": 4}
    windows = {r["id"] for r in main}
    for profile in TYPES:
        assert {r["id"].split("-")[0] for r in sampled if r["profile"] == profile} == windows
    few = sample_test_rows(rows, per_set=30)  # landing has only 4: the others share the rest
    counts = {s: sum(r["source"] == s and r["profile"] == "default" for r in few) for s in SOURCES}
    assert counts == {"docstrings": 13, "kjv": 13, "landing": 4}
    assert len(sample_test_rows(rows, per_set=0)) == len(rows)
    assert sample_test_rows(rows, per_set=12) == sampled  # deterministic
