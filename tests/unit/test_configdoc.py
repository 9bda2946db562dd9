"""The configuration reference in docs/configuration.md is generated from the pydantic models and
kept current, and it lives there only."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrepair.config import Settings
from textrepair.configdoc import (
    END,
    REFERENCE_PAGE,
    START,
    refresh,
    render_reference,
    update_readme,
    update_reference,
)

ROOT = Path(__file__).parents[2]
PAGE = ROOT / REFERENCE_PAGE


def test_every_section_and_key_is_documented():
    reference = render_reference()
    for name in Settings.model_fields:
        assert f"`{name}`" in reference
    for key in ("max_window_bytes", "release", "cer_margin", "tracking_uri", "target_modules"):
        assert f"| `{key}` |" in reference
    assert "### `model.lora`" in reference  # nested sections get their own table


def test_the_reference_page_is_up_to_date():
    text = PAGE.read_text(encoding="utf-8")
    assert refresh(text) == text, f"run `textrepair config-doc --write {REFERENCE_PAGE}`"


def test_the_page_holds_every_section_of_the_settings():
    # Not only fresh markers: the page's copy is the whole reference, one table per section.
    text = PAGE.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name}`" in text
    assert text.count(START) == 1 and text.count(END) == 1


def test_the_reference_is_written_once_in_the_repository():
    # The README links to docs/configuration.md instead of holding a second copy.
    holders = [
        path.relative_to(ROOT).as_posix()
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        if START in path.read_text(encoding="utf-8")
    ]
    assert holders == [REFERENCE_PAGE.as_posix()]


def test_update_rewrites_between_the_markers_only(tmp_path):
    page = tmp_path / "configuration.md"
    page.write_text(f"before\n{START}\nstale\n{END}\nafter\n")
    assert update_reference(page)
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("after\n")
    assert "stale" not in text and "| `seed` |" in text
    assert not update_reference(page)


def test_the_cli_name_is_the_same_function():
    # `textrepair config-doc --write PATH` imports `update_readme`.
    assert update_readme is update_reference


def test_a_page_without_markers_is_a_clear_error(tmp_path):
    page = tmp_path / "configuration.md"
    page.write_text("no markers here\n")
    with pytest.raises(ValueError, match="no configuration reference markers"):
        update_reference(page)
