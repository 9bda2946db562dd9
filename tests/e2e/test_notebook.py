"""notebooks/walkthrough.ipynb runs from top to bottom: the whole lifecycle on the tiny profile.

This is the end-to-end test of the chain: data → train → evaluate → register → promote → API →
batch → stream → prediction log → monitor, in a temporary workspace the notebook makes itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).parents[2]


def test_the_walkthrough_notebook_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTREPAIR_REPO", str(ROOT))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's workspace lands here
    notebook = nbformat.read(ROOT / "notebooks" / "walkthrough.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "\n".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    assert "promoted to @champion" in outputs
    assert "champion: version 1" in outputs
    assert "200" in outputs  # the API answered
    for path in ("api", "batch", "stream"):
        assert path in outputs  # every path wrote to the prediction log
    assert os.listdir(tmp_path)
