"""Shared by the edit-family benchmarks: a random-init model to time, and what a run ran on.

A random `edit` model of a preset size times like a trained one per forward pass (speed does not
depend on the weights), but it tags many characters as damaged, so it runs more fill rounds than
a trained model would: report figures of a random model as such.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def random_edit_model(path: Path, size: str = "small", dtype: str = "auto") -> Path:
    """Save a seeded random `edit` model of `size` (vocabulary from 200 KJV verses) to `path`.

    `dtype` is the manifest's inference dtype; `auto` is what params.yaml gives a trained model.
    """
    import torch

    from textrepair.data.corpus import kjv_path
    from textrepair.model.families import ModelConfig, build_model, save_model

    verses = [json.loads(line)["text"] for line in kjv_path().read_text().splitlines()[:200]]
    torch.manual_seed(0)
    config = ModelConfig(family="edit", size=size, dropout=0.0, dtype=dtype)
    model, vocab = build_model(config, verses)
    return save_model(model.eval(), vocab, config, path)


def run_context() -> dict[str, Any]:
    """Date, commit, whether the model code in the working tree differs from it, and machine."""
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        # Several engineers share the working tree: a benchmark runs what is on disk.
        "uncommitted_model_code": _git("status", "--porcelain", "--", "src/textrepair/model")
        .replace("\n", "; ")
        .strip(),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_name(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_context(context: dict[str, Any]) -> None:
    dirty = context["uncommitted_model_code"] or "none"
    print(
        f"{context['date_utc']} UTC, commit {context['git_commit']} (uncommitted model code: "
        f"{dirty}), {context['cpu_count']} cores ({context['cpu']}), "
        f"load {context['load_average_1min']}"
    )


def write_results(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
