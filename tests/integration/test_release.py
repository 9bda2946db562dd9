"""A release: package a trained model, adopt it in place of training, promote without rescoring.

A tiny random byte-T5 trains for a few steps; what is checked is the wiring, not model quality.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.config import Settings
from textrepair.lifecycle import release as release_module
from textrepair.lifecycle.release import model_card
from textrepair.model.families import read_manifest

pytestmark = pytest.mark.slow

LOCK = {"stages": {"corrupt": {"outs": [{"path": "data/lake/gold", "md5": "0123abcd.dir"}]}}}


@pytest.fixture
def project(tmp_path, monkeypatch, tiny_params, write_tiny_gold):
    monkeypatch.chdir(tmp_path)
    params = tiny_params(tmp_path, "release-test")
    params["train"].update(max_steps=4, eval_steps=2)
    params["evaluate"].update(max_rows_per_set=6, n_resamples=20, batch_size=8)
    params["registry"].update(max_broken_rate=1.0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # A gold hash, as `dvc repro` records it: it names the test rows promote may reuse.
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    write_tiny_gold(Settings(**params), 60)
    yield tmp_path
    mlflow.set_tracking_uri(None)


def _set_release(project: Path, release: str | None) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["release"] = release
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def test_release_is_packaged_adopted_and_promoted_without_rescoring(project: Path, caplog, cli):
    cli("train")
    cli("evaluate", "--trained")
    command = "textrepair train --from-scratch --max-steps 4"
    out = cli("release", "--out", "models/tiny", "--command", command)
    assert "wrote the release models/tiny" in out

    card = (project / "models/tiny/README.md").read_text()
    assert command in card and "0123abcd.dir" in card and "CER reduction" in card
    manifest = read_manifest(project / "models/tiny")
    assert manifest["train_steps"] == 4
    report = json.loads((project / "models/tiny/evaluation.json").read_text())
    assert set(report["baselines"]) == {"identity", "symspell"}
    early = model_card(
        manifest, report, {"steps": 4, "best_step": 2, "stopped_by": "early stopping"}
    )
    assert "4 steps, stopped by early stopping; weights of step 2" in early
    assert "weights of step" not in model_card(manifest, report, {"steps": 4, "best_step": 4})

    _set_release(project, "models/tiny")
    out = cli("train")
    assert "adopted the release model models/tiny" in out
    run = json.loads((project / "train" / "run.json").read_text())
    assert run["stopped_by"] == "release"
    adopted = Path(run["model_dir"])
    assert (adopted / "model.safetensors").read_bytes() == (
        project / "models/tiny/model.safetensors"
    ).read_bytes()
    tags = MlflowClient().get_run(run["run_id"]).data.tags
    assert tags["source"] == "release" and tags["data_version"] == "0123abcd.dir"

    cli("evaluate", "--trained")
    assert "version 1" in cli("register")
    with caplog.at_level(logging.INFO, logger="textrepair.stages.promote"):
        assert "version 1 promoted" in cli("promote")
    assert "reusing the evaluation logged on the same test rows" in caplog.text


def test_from_scratch_trains_even_with_a_release_set(project: Path, cli):
    _set_release(project, "models/missing")
    out = cli("train", "--from-scratch")
    assert "trained 4 steps" in out


def test_a_missing_release_is_a_clear_error(project: Path):
    _set_release(project, "models/missing")
    result = CliRunner().invoke(app, ["train", "--params", "params.yaml"])
    assert result.exit_code != 0
    assert "models/missing does not exist" in str(result.exception)


def test_an_oversized_release_is_refused(project: Path, monkeypatch, cli):
    cli("train")
    cli("evaluate", "--trained")
    monkeypatch.setattr(release_module, "MAX_RELEASE_MB", 0.001)
    result = CliRunner().invoke(app, ["release", "--out", "models/big", "--params", "params.yaml"])
    assert result.exit_code == 1
    assert "limit" in result.output
    assert not (project / "models/big").exists()


def test_the_edit_family_goes_through_the_lifecycle(project: Path, cli):
    """train --family edit, evaluate (beside another model), release with its tagging scores,
    register and promote: the same commands as the generative families."""
    cli("train", "--family", "edit", "--size", "tiny")
    assert (project / "train" / "validation.json").is_file()
    assert (project / "train" / "calibration.json").is_file()
    cli("evaluate", "--trained")
    out = cli("release", "--out", "models/edit", "--command", "textrepair train --family edit")
    assert "wrote the release models/edit" in out
    card = (project / "models/edit/README.md").read_text()
    assert "| family | `edit` |" in card and "## Tagging on gold/validation" in card
    assert read_manifest(project / "models/edit")["family"] == "edit"

    cli("evaluate", "--model", "models/edit", "--compare", "models/edit")
    report = json.loads((project / "reports" / "evaluation.json").read_text())
    assert set(report["baselines"]) == {"identity", "symspell", "edit"}
    assert report["baselines"]["edit"]["cer_out"] == report["model"]["cer_out"]
    cli("evaluate", "--model", "models/edit", "--split", "validation")
    report = json.loads((project / "reports" / "evaluation.json").read_text())
    assert report["split"] == "validation" and report["model"]["n_rows"] > 0
    assert "Main-profile validation rows" in (project / "reports" / "evaluation.md").read_text()

    _set_release(project, "models/edit")
    cli("train")
    cli("evaluate", "--trained")
    assert "version 1" in cli("register")
    assert "version 1 promoted" in cli("promote")
