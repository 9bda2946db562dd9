"""Stage metrics as JSON files that DVC tracks as `metrics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORTS_DIR = Path("reports")


def write_metrics(name: str, metrics: dict[str, Any], reports_dir: Path = REPORTS_DIR) -> Path:
    """Write `reports/<name>.json` atomically (a crash never leaves half a file)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def read_metrics(name: str, reports_dir: Path = REPORTS_DIR) -> dict[str, Any]:
    path = reports_dir / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the stage that writes it first")
    return json.loads(path.read_text())
