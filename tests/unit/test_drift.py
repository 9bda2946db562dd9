"""Drift statistics, text features and the Prometheus drift gauges."""

from __future__ import annotations

import json

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from textrepair.monitoring.drift import Thresholds, compare, feature_drift, psi
from textrepair.monitoring.drift_metrics import register_drift_gauges
from textrepair.monitoring.textfeatures import char_class_shares, damage_rate


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5000)
    assert psi(reference, rng.normal(0, 1, 5000)) < 0.02
    assert psi(reference, rng.normal(1, 1, 5000)) > 0.5


def test_psi_handles_discrete_features_and_empty_bins():
    reference = np.array([0.0] * 900 + [1.0] * 100)
    assert psi(reference, reference) == pytest.approx(0.0)
    assert psi(reference, np.array([0.0] * 500 + [1.0] * 500)) > 0.5
    assert np.isfinite(psi(reference, np.ones(50)))  # a bin left empty stays finite


def test_ks_needs_a_large_statistic_and_a_small_p_value():
    rng = np.random.default_rng(1)
    reference = rng.uniform(0, 1, 4000)
    slight = feature_drift("x", reference, rng.uniform(0.02, 1.02, 4000))
    assert not slight.drifted and slight.ks_statistic < 0.1
    strong = feature_drift("x", reference, rng.uniform(0.3, 1.3, 4000))
    assert strong.drifted and strong.ks_pvalue < 0.01
    few = feature_drift("x", reference, [0.9, 0.95], Thresholds(psi=100))
    assert few.ks_statistic > 0.1 and not few.drifted  # p-value too large with two rows


def test_compare_flags_only_the_shifted_feature():
    rng = np.random.default_rng(2)
    reference = {"a": rng.normal(0, 1, 2000), "b": rng.normal(0, 1, 2000)}
    current = {"a": rng.normal(0, 1, 2000), "b": rng.normal(2, 1, 2000)}
    drifted = [d.feature for d in compare(reference, current) if d.drifted]
    assert drifted == ["b"]
    with pytest.raises(ValueError, match="lacks features"):
        compare(reference, {"a": current["a"]})
    with pytest.raises(ValueError, match="at least one value"):
        psi([], [1.0])


def test_text_features():
    assert damage_rate("helo", "hello") == pytest.approx(0.25)
    assert damage_rate("", "x") == 0.0
    shares = char_class_shares("Ab 1, é\t→")
    assert shares == pytest.approx(
        {"letters": 3 / 9, "digits": 1 / 9, "spaces": 3 / 9, "punctuation": 2 / 9, "other": 0}
    )
    assert char_class_shares("\x00") == {**dict.fromkeys(shares, 0.0), "other": 1.0}


def _report(psi_value: float, drifted: bool) -> dict:
    return {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "retrain_recommended": drifted,
        "window": {"rows": 123},
        "features": {
            "damage_rate": {"psi": psi_value, "ks_statistic": 0.3, "drifted": drifted},
            "input_length": {"psi": 0.01, "ks_statistic": 0.02, "drifted": False},
        },
    }


def test_drift_gauges_follow_the_report_file(tmp_path):
    path = tmp_path / "monitor.json"
    registry = CollectorRegistry()
    register_drift_gauges(path, registry)
    assert "textrepair_drift_report_available 0.0" in generate_latest(registry).decode()

    path.write_text(json.dumps(_report(0.42, True)))
    text = generate_latest(registry).decode()
    assert 'textrepair_drift_psi{feature="damage_rate"} 0.42' in text
    assert 'textrepair_drift_feature_drifted{feature="damage_rate"} 1.0' in text
    assert 'textrepair_drift_feature_drifted{feature="input_length"} 0.0' in text
    assert "textrepair_drift_retrain_recommended 1.0" in text
    assert "textrepair_drift_window_rows 123.0" in text
    assert "textrepair_drift_report_timestamp_seconds 1.7672256e+09" in text

    path.write_text(json.dumps(_report(0.05, False)))  # a new monitor run, no restart
    text = generate_latest(registry).decode()
    assert 'textrepair_drift_psi{feature="damage_rate"} 0.05' in text
    assert "textrepair_drift_retrain_recommended 0.0" in text

    path.write_text("{not json")
    assert "textrepair_drift_report_available 0.0" in generate_latest(registry).decode()
