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
