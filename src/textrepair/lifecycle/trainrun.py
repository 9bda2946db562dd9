"""What training (or adopting a release) hands to evaluate, register and release: run.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
CURVES_FILE = "training_curves.png"  # a DVC out of the train stage


@dataclass
class TrainRun:
    """The MLflow run and model directory of the last training (or adopted release)."""

    run_id: str
    model_dir: str
    steps: int
    stopped_by: str
    best_step: int | None = None  # step of the saved (best) weights; None before it was recorded

    def save(self, output_dir: Path) -> Path:
        path = output_dir / RUN_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, output_dir: Path) -> TrainRun:
        path = output_dir / RUN_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: run `textrepair train` first")
        return cls(**json.loads(path.read_text()))


def plot_training_curves(log_history: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Train and eval loss against step, from a Hugging Face Trainer ``state.log_history``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.0), layout="constrained")
    axes = figure.subplots()
    for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
        points = [(e["step"], e[key]) for e in log_history if key in e and "step" in e]
        if points:
            steps, losses = zip(*points, strict=True)
            axes.plot(steps, losses, marker="o" if key == "eval_loss" else None, label=label)
    if axes.lines:
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("Training curves")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
