"""The MLproject file parses, and every entry point runs real `textrepair` sub-commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
import typer
from mlflow.projects._project_spec import load_project

from textrepair.cli import app

ROOT = Path(__file__).parents[2]
ENTRY_POINTS = {"main", "data", "train", "evaluate", "register", "promote"}
# `mlflow run` exports MLFLOW_RUN_ID; textrepair opens its own runs, so these commands drop it.
UNSET_RUN_ID = "unset MLFLOW_RUN_ID"
OTHER_STEPS = {UNSET_RUN_ID, "dvc repro"}


@pytest.fixture(scope="module")
def project():
    return load_project(str(ROOT))


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    return typer.main.get_command(app).commands


def _steps(project, name: str, tmp_path: Path, **params: object) -> list[str]:
    command = project.get_entry_point(name).compute_command(params, str(tmp_path))
    return [step.strip() for step in command.split("&&")]


def _context(commands: dict[str, click.Command], step: str) -> click.Context:
    """Parse a `textrepair SUB ARGS...` step with the CLI's own parser (nothing is run)."""
    program, sub, *args = shlex.split(step)
    assert program == "textrepair", step
    assert sub in commands, f"{step!r}: no sub-command {sub!r} (known: {sorted(commands)})"
    return commands[sub].make_context(sub, args)


def test_entry_points_are_the_pipeline_steps(project) -> None:
    assert project.name == "textrepair"
    assert set(project._entry_points) == ENTRY_POINTS


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_step_is_a_textrepair_sub_command_or_a_known_tool(
    project, commands, name, tmp_path
) -> None:
    steps = _steps(project, name, tmp_path)
    textrepair_steps = [s for s in steps if s not in OTHER_STEPS]
    assert textrepair_steps, f"entry point {name!r} runs no textrepair command"
    for step in textrepair_steps:
        _context(commands, step)
    if name != "data":  # these open or resume MLflow runs
        assert steps[0] == UNSET_RUN_ID


def test_main_rebuilds_the_pipeline_then_promotes(project, tmp_path) -> None:
    assert _steps(project, "main", tmp_path) == [UNSET_RUN_ID, "dvc repro", "textrepair promote"]


def test_train_parameters_reach_the_cli(project, commands, tmp_path) -> None:
    entry = project.get_entry_point("train")
    assert {n: p.type for n, p in entry.parameters.items()} == {
        "minutes": "float",
        "max_steps": "int",
    }
    step = _steps(project, "train", tmp_path, minutes=2.5, max_steps=7)[-1]
    assert {"minutes": 2.5, "max_steps": 7}.items() <= _context(commands, step).params.items()
    default = _context(commands, _steps(project, "train", tmp_path)[-1]).params
    assert (default["minutes"], default["max_steps"]) == (10.0, 0)


def test_evaluate_uses_the_trained_model(project, commands, tmp_path) -> None:
    step = _steps(project, "evaluate", tmp_path)[-1]
    assert _context(commands, step).params["trained"] is True
