"""The README's configuration reference is generated from the pydantic models and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrepair.config import Settings
from textrepair.configdoc import END, START, render_reference, update_readme

README = Path(__file__).parents[2] / "README.md"


def test_every_section_and_key_is_documented():
    reference = render_reference()
    for name in Settings.model_fields:
        assert f"`{name}`" in reference
    for key in ("max_window_bytes", "release", "cer_margin", "tracking_uri", "target_modules"):
        assert f"| `{key}` |" in reference
    assert "### `model.lora`" in reference  # nested sections get their own table


def test_the_readme_reference_is_up_to_date(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    assert not update_readme(copy), "run `textrepair config-doc --write README.md`"


def test_update_rewrites_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\nstale\n{END}\nafter\n")
    assert update_readme(readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n")
    assert "stale" not in text and "| `seed` |" in text
    assert not update_readme(readme)


def test_a_readme_without_markers_is_a_clear_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="no configuration reference markers"):
        update_readme(readme)
