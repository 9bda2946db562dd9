"""`dvc repro corrupt` (the data stages) end to end in a throwaway copy of the project.

Checks the promises of dvc.yaml: a first repro builds bronze, silver and gold; a second does
nothing; changing a mutation profile reruns only `corrupt`; a new landing file reruns ingest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from textrepair.data import tables

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REPO = Path(__file__).parents[2]


def _run(args: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "TEXTREPAIR_SPARK__MASTER": "local[2]",
        # A stage once died at interpreter exit (SIGABRT, "terminate called without an active
        # exception") after its work was done: if it happens again, name the native thread.
        "PYTHONFAULTHANDLER": "1",
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root)
    shutil.copy(REPO / "requirements.lock", root)  # a dependency of the ingest stage
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["corpus"]["builtin"] = []
    params["gold"]["test_fraction"] = 0.3
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    landing = root / "data" / "landing"
    landing.mkdir(parents=True)
    (landing / "story.txt").write_text(
        "Once upon a time there was a careful engineer.\n\n"
        "She versioned her data and tracked every run.\n\n"
        "Her pipelines were rebuilt only when something changed."
    )
    _run(["git", "init", "-q"], root)
    _run([sys.executable, "-m", "dvc", "init", "-q"], root)
    return root


def test_repro_builds_then_skips_then_reruns_only_what_changed(project: Path):
    first = _run([sys.executable, "-m", "dvc", "repro", "corrupt"], project)
    for stage in ("ingest", "clean", "corrupt"):
        assert f"Running stage '{stage}'" in first
    gold = tables.read_arrow(str(project / "data" / "lake" / "gold"))
    assert gold.num_rows > 0
    assert (project / "reports" / "data.json").exists()
    assert (project / "reports" / "data.png").stat().st_size > 0

    second = _run([sys.executable, "-m", "dvc", "repro", "corrupt"], project)
    assert "Running stage" not in second
    assert "Data and pipelines are up to date" in second

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["mutation_profiles"]["default"]["deletion"]["rate"] = 3.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    third = _run([sys.executable, "-m", "dvc", "repro", "corrupt"], project)
    assert "Running stage 'corrupt'" in third
    assert "Running stage 'ingest'" not in third
    assert "Running stage 'clean'" not in third
