"""`textrepair evaluate --split`: validation compares models; --trained stays on test."""

from __future__ import annotations

from typer.testing import CliRunner

from textrepair.cli import app


def test_trained_evaluation_refuses_another_split():
    result = CliRunner().invoke(app, ["evaluate", "--trained", "--split", "validation"])
    assert result.exit_code == 2
    assert "--split" in result.output and "test metrics" in result.output


def test_unknown_split_is_a_usage_error():
    result = CliRunner().invoke(app, ["evaluate", "--split", "train"])
    assert result.exit_code == 2 and "train" in result.output


def test_compared_models_keep_distinct_names(tmp_path):
    from textrepair.stages.evaluate import system_name

    taken = {"model", "identity", "symspell"}
    assert system_name(tmp_path / "models" / "edit", taken) == "edit"
    assert system_name(tmp_path / "run" / "model", taken) == "run/model"
    taken.add("edit")
    assert system_name(tmp_path / "other" / "edit", taken) == "other/edit"
