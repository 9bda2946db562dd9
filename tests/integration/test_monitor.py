"""`textrepair monitor` on a prediction log against a gold table of random word sequences.

Gold is corrupted with the real engine. "Recent traffic" is built from held-out gold rows: as
trained (the default profile, repaired perfectly) it must not drift; damaged with the heavy
profile it must. The exit status is what continuous training reads, so each one is checked.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.config import Settings, read_params
from textrepair.data import tables
from textrepair.data.mutations import mutate_text
from textrepair.model.repairer import RepairResult, compute_edits
from textrepair.monitoring.monitor import FEATURES
from textrepair.monitoring.predlog import append_predictions, log_uri, prediction_rows
from textrepair.stages.corrupt import GOLD_SCHEMA, corrupt_rows

pytestmark = pytest.mark.slow
VOCABULARY = "the quick brown fox jumps over a lazy dog while seven wizards vex chumps and".split()  # noqa: SIM905
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def gold(tmp_path_factory):
    """params (lake, no log yet) and the held-out clean texts of a 1,000-window gold table."""
    tmp = tmp_path_factory.mktemp("monitor")
    params = read_params(Path(__file__).parents[2] / "params.yaml")
    params["storage"] = {"root": str(tmp / "lake")}
    settings = Settings(**params)
    rng = random.Random(0)
    silver = [
        {
            "window_id": f"w{i:05d}",
            "text": " ".join(rng.choices(VOCABULARY, k=rng.randint(4, 20))),
            "source": "landing",
        }
        for i in range(1000)
    ]
    rows = corrupt_rows(silver, settings)
    tables.write_arrow(pa.Table.from_pylist(rows, schema=GOLD_SCHEMA), settings.lake_path("gold"))
    held = [r for r in rows if r["split"] != "train" and r["profile"] == settings.gold.profile]
    return params, held


@pytest.fixture
def project(gold, tmp_path, monkeypatch):
    """A params file of our own: this test's log table, the shared gold table."""
    params, held = gold
    params = {**params, "monitor": {"log_table": f"log_{tmp_path.name}", "min_rows": 50}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return Settings(**params), held


def _log(settings: Settings, pairs: list[tuple[str, str]], when: dt.datetime = NOW) -> None:
    inputs = [damaged for damaged, _ in pairs]
    results = [RepairResult(out, compute_edits(inp, out), out != inp) for inp, out in pairs]
    rows = prediction_rows(inputs, results, 4.0, "api", 2, timestamp=when)
    append_predictions(rows, log_uri(settings))


def _as_trained(held: list[dict]) -> list[tuple[str, str]]:
    return [(row["corrupted"], row["clean"]) for row in held]


def _heavily_damaged(held: list[dict], settings: Settings) -> list[tuple[str, str]]:
    heavy = settings.mutation_profiles["heavy"]
    return [(mutate_text(r["clean"], heavy, 7, r["id"])[0], r["clean"]) for r in held]


def _monitor(*args: str):
    return CliRunner().invoke(app, ["monitor", *args, "--params", "params.yaml"])


def _report() -> dict:
    return json.loads(Path("reports/monitor.json").read_text())


def test_traffic_like_training_is_no_drift(project):
    settings, held = project
    _log(settings, _as_trained(held))
    result = _monitor("--fail-on-drift")
    assert result.exit_code == 0, result.output
    report = _report()
    assert report["status"] == "ok" and not report["retrain_recommended"], report
    assert sorted(report["features"]) == sorted(FEATURES)
    assert report["window"]["rows"] == len(held) and report["window"]["rows_by_path"] == {
        "api": len(held)
    }
    assert report["reference"]["rows"] > 300
    assert report["reference"]["source"] == "gold/train"  # no champion here: gold's true damage
    page = Path("reports/monitor.html").read_text()
    assert "No drift" in page and "data:image/png;base64," in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_heavier_damage_is_drift_and_fails_when_asked(project):
    settings, held = project
    _log(settings, _heavily_damaged(held, settings))
    result = _monitor()
    assert result.exit_code == 0, result.output  # reported, but not an error without the flag
    report = _report()
    assert report["status"] == "drift" and report["retrain_recommended"]
    assert "damage_rate" in report["drifted_features"]
    assert (
        report["features"]["damage_rate"]["current_mean"]
        > (report["features"]["damage_rate"]["reference_mean"])
    )
    assert "retraining is recommended" in Path("reports/monitor.html").read_text()
    assert _monitor("--fail-on-drift").exit_code == 3


def test_the_window_selects_recent_rows(project):
    settings, held = project
    _log(settings, _heavily_damaged(held, settings), when=NOW - dt.timedelta(days=2))
    _log(settings, _as_trained(held))
    assert _monitor("--fail-on-drift", "--hours", "1").exit_code == 0
    assert _report()["window"]["rows"] == len(held)
    assert _monitor("--fail-on-drift", "--window", "0").exit_code == 3  # everything: drift
    assert _monitor("--fail-on-drift", "--window", str(len(held))).exit_code == 0


def test_no_log_is_a_clear_error(project):
    result = _monitor()
    assert result.exit_code == 1
    assert "no prediction log" in result.stderr and "nothing has been served yet" in result.stderr


def test_an_empty_window_is_a_clear_error(project):
    settings, held = project
    _log(settings, _as_trained(held), when=NOW - dt.timedelta(days=2))
    result = _monitor("--hours", "1")
    assert result.exit_code == 1
    assert "has no rows in the last 1 hours" in result.stderr


def test_too_few_rows_give_no_verdict(project):
    settings, held = project
    _log(settings, _heavily_damaged(held[:10], settings))
    result = _monitor("--fail-on-drift")
    assert result.exit_code == 4, result.output
    assert "fewer than monitor.min_rows=50" in result.stderr
    assert _report()["status"] == "insufficient_data"


def test_a_log_without_gold_is_a_clear_error(project, tmp_path):
    _, held = project
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["storage"] = {"root": str(tmp_path / "empty-lake")}  # a lake with a log, no gold
    Path("params.yaml").write_text(yaml.safe_dump(params))
    _log(Settings(**params), _as_trained(held[:60]))
    result = _monitor()
    assert result.exit_code == 1
    assert "no training profile" in result.stderr and "gold" in result.stderr


def test_the_champion_is_the_reference_for_what_the_model_does(project):
    """A model that changes nothing, on traffic like its training data: against gold's true damage
    its damage_rate drifts; against its own output on gold/validation it does not."""
    from textrepair.monitoring.monitor import run_monitor

    settings, held = project
    _log(settings, [(row["corrupted"], row["corrupted"]) for row in held])
    against_gold, _, _ = run_monitor(settings)
    assert "damage_rate" in against_gold["drifted_features"]
    against_model, reference, _ = run_monitor(settings, repair=lambda texts: list(texts))
    assert not {"damage_rate", "unchanged"} & set(against_model["drifted_features"])
    assert "champion" in against_model["reference"]["source"]
    assert set(reference["damage_rate"]) == {0.0}  # the reference really is the model's output
