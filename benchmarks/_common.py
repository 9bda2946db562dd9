"""Shared by the benchmarks: what a run ran on (the environment block) and the JSON report.

Each benchmark is a script run from the repository root (`python benchmarks/x.py`): Python puts
the script's folder first on sys.path, so `from _common import ...` needs no path handling.
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
RESULTS_DIR = ROOT / "benchmarks" / "results"
# The CPU flags that change the speed of our models: bfloat16 (model.dtype: auto) needs the last
# two, and torch's kernels pick AVX2/AVX-512 code paths.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def run_context(code: tuple[str, ...] = ("src", "benchmarks")) -> dict[str, Any]:
    """Date, commit, the uncommitted changes to `code` (several engineers share the working
    tree: a benchmark runs what is on disk), and the machine with its 1-minute load."""
    changed = _git("status", "--porcelain", "--", *code)
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_code": "; ".join(line.strip() for line in changed.splitlines()),
        "cpu_count": os.cpu_count(),
        "cpu": _cpuinfo("model name") or platform.processor() or "unknown",
        "cpu_flags": [f for f in SPEED_FLAGS if f in _cpuinfo("flags").split()],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpuinfo(field: str) -> str:
    """The first `field` of /proc/cpuinfo; '' where there is none (not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def print_context(context: dict[str, Any]) -> None:
    flags = ", ".join(context["cpu_flags"]) or "none of " + ", ".join(SPEED_FLAGS)
    print(
        f"{context['date_utc']} UTC, commit {context['git_commit']} (uncommitted code: "
        f"{context['uncommitted_code'] or 'none'}), {context['cpu_count']} cores "
        f"({context['cpu']}; {flags}), load {context['load_average_1min']}"
    )


def write_report(path: Path, report: dict[str, Any]) -> None:
    """The report as indented JSON at `path` (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
