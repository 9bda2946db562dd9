"""Shared set-up for model tests: tiny-model params in tmp dirs, and a tiny gold table."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from textrepair.config import Settings, read_params
from textrepair.data import tables
from textrepair.stages.corrupt import GOLD_SCHEMA, corrupt_rows

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"
WORDS = "the quick brown fox jumps over a lazy dog while seven wizards vex chumps".split()  # noqa: SIM905


def _tiny_params(tmp: Path, experiment: str) -> dict:
    """Repository params with a tiny byte-T5, every path and URI under `tmp`."""
    params = read_params(REPO_PARAMS)
    params["storage"] = {"root": str(tmp / "lake")}
    params["gold"].update(validation_fraction=0.2, test_fraction=0.3)
    params["model"].update(family="byt5", size="tiny", init_from=None)
    params["train"].update(batch_size=8, eval_rows=8, epochs=1, release=None)
    params["train_output_dir"] = str(tmp / "train")
    params["mlflow"] = {
        "tracking_uri": f"sqlite:///{tmp}/mlflow.db",
        "artifact_root": str(tmp / "mlartifacts"),
        "experiment": experiment,
    }
    return params


def _write_tiny_gold(settings: Settings, windows: int) -> None:
    """Corrupt `windows` short sentences with the engine and commit them as the gold table."""
    silver = [
        {
            "window_id": f"w{i:03d}",
            "text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(8)),
            "source": "landing",
        }
        for i in range(windows)
    ]
    rows = corrupt_rows(silver, settings)
    tables.write_arrow(pa.Table.from_pylist(rows, schema=GOLD_SCHEMA), settings.lake_path("gold"))


@pytest.fixture
def tiny_params():
    return _tiny_params


@pytest.fixture
def write_tiny_gold():
    return _write_tiny_gold


# ------------------------------------------------------------- batch and streaming scoring
def _tiny_models():
    # The tiny-model helpers live beside the model tests; that folder is on sys.path only when
    # its tests are collected in this process.
    folder = str(Path(__file__).parents[1] / "model")
    if folder not in sys.path:
        sys.path.append(folder)
    import tiny_models

    return tiny_models


@pytest.fixture(scope="session")
def copy_model_dir(tmp_path_factory, one_torch_thread) -> Path:
    """A tiny byte-T5 trained for a few seconds to copy, saved as a model directory: its greedy
    output is deterministic and partly differs from its input, so parity checks mean something."""
    import torch

    from textrepair.model.families import ModelConfig, build_model, save_model

    # guard_span_chars=0: a barely trained model's changes are long, and the guard would undo them.
    config = ModelConfig(
        dtype="float32", family="byt5", size="tiny", dropout=0.0, guard_span_chars=0
    )
    torch.manual_seed(1)
    model, tokenizer = build_model(config)
    model = _tiny_models().train_to_copy(model, tokenizer, config, steps=60)
    return save_model(model, tokenizer, config, tmp_path_factory.mktemp("models") / "copy-byt5")


@pytest.fixture(scope="session")
def edit_model_dir(tmp_path_factory, damaged_texts) -> Path:
    """A tiny random edit-family model: deterministic tags and fills that change some texts."""
    import torch

    from textrepair.model.families import ModelConfig, build_model, save_model

    config = ModelConfig(dtype="float32", family="edit", size="tiny", dropout=0.0)
    torch.manual_seed(2)
    model, vocab = build_model(config, damaged_texts)
    with torch.no_grad():  # sharper random tags, few gaps: some characters change
        model.action_head.weight.mul_(30)
        model.gap_head.bias[0] += 10
    return save_model(model, vocab, config, tmp_path_factory.mktemp("models") / "edit")


@pytest.fixture(scope="session")
def damaged_texts() -> list[str]:
    """24 short sentences, three in four damaged by substitutions; deterministic."""
    import random

    from textrepair.config import MutationSpec
    from textrepair.data.mutations import Mutator, row_rng

    n, seed = 24, 7
    rng = random.Random(seed)
    mutator = Mutator({"substitution": MutationSpec(rate=6, mean_length=1.5, max_length=3)})
    texts = []
    for i in range(n):
        clean = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        texts.append(mutator.mutate(clean, row_rng(seed, str(i)))[0] if i % 4 else clean)
    return texts


def run_cli(*args: str) -> str:
    """`textrepair ARGS --params params.yaml` in-process; fails the test on a non-zero exit."""
    from typer.testing import CliRunner

    from textrepair.cli import app

    result = CliRunner().invoke(app, [*args, "--params", "params.yaml"])
    assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result.stdout  # logs and progress bars go to stderr


@pytest.fixture
def cli():
    return run_cli
