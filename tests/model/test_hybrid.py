"""The hybrid: a model directory whose second model repairs the first one's output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pytest
import torch

from textrepair.lifecycle.release import ReleaseError, build_hybrid
from textrepair.model.edit import ACTIONS
from textrepair.model.families import (
    CARD_FILE,
    CURVES_FILE,
    MANIFEST,
    SECOND_OPINION_GATE_KEY,
    SECOND_OPINION_KEY,
    ModelConfig,
    ModelLoadError,
    build_model,
    save_model,
)
from textrepair.model.repairer import Repairer

TEXTS = ["the quick brown fox jumps", "ovr the lazy lazy dog.", "", "a"]
REVERSED = ["spmuj xof nworb kciuq eht", ".god yzal yzal eht rvo", "", "a"]


def _reverser(path: Path, action: str = "reversed") -> Path:
    """A tiny edit model that tags every character as part of one reversed run (no gaps); with
    `action="keep"`, one that keeps every character, sure that the text is clean."""
    config = ModelConfig(dtype="float32", family="edit", size="tiny", dropout=0.0)
    torch.manual_seed(0)
    model, vocab = build_model(config, TEXTS)
    with torch.no_grad():
        for head, label in ((model.action_head, ACTIONS.index(action)), (model.gap_head, 0)):
            head.weight.zero_()
            head.bias.fill_(-10.0)
            head.bias[label] = 10.0
    return save_model(model.eval(), vocab, config, path)


@pytest.fixture
def releases(tmp_path):
    """Two releases side by side like models/: each reverses every window, so one alone gives
    REVERSED and the hybrid, the second undoing the first, gives TEXTS back."""
    first = _reverser(tmp_path / "models" / "first")
    assert [r.text for r in Repairer.load(first).repair(TEXTS)] == REVERSED
    return first, _reverser(tmp_path / "models" / "second")


def test_the_second_model_repairs_the_first_ones_output(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    repairer = Repairer.load(hybrid)
    assert repairer.family == "edit" and repairer.second_opinion.family == "edit"
    assert [r.text for r in repairer.repair(TEXTS)] == TEXTS
    # Links, not copies: the hybrid adds no weights of its own.
    assert (hybrid / "model.safetensors").is_symlink()
    assert (hybrid / SECOND_OPINION_KEY / "model.safetensors").is_symlink()


def test_a_copy_stands_alone(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    copy = shutil.copytree(hybrid, tmp_path / "copy")  # follows the links, as packaging does
    shutil.rmtree(tmp_path / "models")
    assert [r.text for r in Repairer.load(copy).repair(TEXTS)] == TEXTS


@pytest.mark.slow
def test_logged_to_mlflow_it_takes_both_models_along(releases, tmp_path, monkeypatch):
    from textrepair.model.pyfunc import load_repairer, log_repairer

    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run():
            log_repairer(hybrid, "hybrid")
        shutil.rmtree(tmp_path / "models")
        repairer = load_repairer("models:/hybrid/1")
        assert [r.text for r in repairer.repair(TEXTS)] == TEXTS
    finally:
        mlflow.set_tracking_uri(None)


@pytest.mark.parametrize("name", ["../second", "/tmp", "."])
def test_a_second_model_outside_the_directory_is_refused(releases, tmp_path, name):
    first, _ = releases
    manifest = json.loads((first / MANIFEST).read_text())
    (first / MANIFEST).write_text(json.dumps({**manifest, SECOND_OPINION_KEY: name}))
    with pytest.raises(ModelLoadError, match="inside the model directory"):
        Repairer.load(first)


def test_a_missing_second_model_gives_a_clear_error(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    shutil.rmtree(hybrid / SECOND_OPINION_KEY)
    with pytest.raises(ModelLoadError, match="does not exist"):
        Repairer.load(hybrid)


def test_a_hybrid_is_not_nested(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    with pytest.raises(ReleaseError, match="already a hybrid"):
        build_hybrid(hybrid, second, tmp_path / "models" / "twice")


def test_export_copies_both_models_without_links(releases, tmp_path):
    from textrepair.serve.export import export_model

    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    out = tmp_path / "image-model"
    export_model(str(hybrid), out)
    shutil.rmtree(tmp_path / "models")
    assert not [f for f in out.rglob("*") if f.is_symlink()]
    assert [r.text for r in Repairer.load(out).repair(TEXTS)] == TEXTS


def test_the_second_models_guard_can_differ_in_the_hybrid(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid", second_guard_span=3)
    manifest = hybrid / SECOND_OPINION_KEY / MANIFEST
    assert not manifest.is_symlink()  # the hybrid's own copy, the release is untouched
    assert json.loads(manifest.read_text())["config"]["guard_span_chars"] == 3
    assert json.loads((second / MANIFEST).read_text())["config"]["guard_span_chars"] == 5
    assert [r.text for r in Repairer.load(hybrid).repair(TEXTS)] == TEXTS


def test_the_first_models_curves_come_along_and_its_card_does_not(releases, tmp_path):
    first, second = releases
    (first / CURVES_FILE).write_bytes(b"curves")
    (first / CARD_FILE).write_text("the edit model's card")
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid", second_guard_span=3)
    assert (hybrid / CURVES_FILE).read_bytes() == b"curves"  # the adopting train stage wants them
    card = (hybrid / CARD_FILE).read_text()
    assert "at most 3 characters" in card and "--second-guard-span 3" in card


def test_the_gate_keeps_windows_the_first_model_is_sure_of_from_the_second(releases, tmp_path):
    _, reverser = releases
    keeper = _reverser(tmp_path / "models" / "keeper", action="keep")
    gated = Repairer.load(build_hybrid(keeper, reverser, tmp_path / "models" / "gated", gate=0.6))
    assert [r.text for r in gated.repair(TEXTS)] == TEXTS  # sure they are clean: not reversed
    assert gated.stats["gated_windows"] == 3  # "" holds no window
    open_hybrid = build_hybrid(keeper, reverser, tmp_path / "models" / "open")
    assert [r.text for r in Repairer.load(open_hybrid).repair(TEXTS)] == REVERSED


def test_the_gate_lets_through_windows_the_first_model_changes(releases, tmp_path):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid", gate=0.6)
    assert json.loads((hybrid / MANIFEST).read_text())[SECOND_OPINION_GATE_KEY] == 0.6
    assert "--gate 0.6" in (hybrid / CARD_FILE).read_text()
    repairer = Repairer.load(hybrid)
    assert [r.text for r in repairer.repair(TEXTS)] == TEXTS
    assert repairer.stats["gated_windows"] == 0


@pytest.mark.parametrize("gate", [0, 1.5, "high", True])
def test_a_gate_that_is_not_a_probability_is_refused(releases, tmp_path, gate):
    first, second = releases
    hybrid = build_hybrid(first, second, tmp_path / "models" / "hybrid")
    manifest = json.loads((hybrid / MANIFEST).read_text())
    (hybrid / MANIFEST).write_text(json.dumps({**manifest, SECOND_OPINION_GATE_KEY: gate}))
    with pytest.raises(ModelLoadError, match="probability"):
        Repairer.load(hybrid)
    if isinstance(gate, int | float) and not isinstance(gate, bool):
        with pytest.raises(ReleaseError, match="probability"):
            build_hybrid(first, second, tmp_path / "models" / "again", gate=gate)


def test_the_cli_builds_a_gated_hybrid_and_refuses_a_bad_gate(releases, tmp_path):
    from typer.testing import CliRunner

    from textrepair.cli import app

    first, second = releases
    out = tmp_path / "models" / "hybrid"
    base = ["hybrid", "--out", str(out), "--first", str(first), "--second", str(second)]
    result = CliRunner().invoke(app, [*base, "--gate", "0.6"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / MANIFEST).read_text())[SECOND_OPINION_GATE_KEY] == 0.6
    refused = CliRunner().invoke(app, [*base, "--gate", "0"])
    assert refused.exit_code == 1 and "probability" in refused.output
