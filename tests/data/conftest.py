"""Fixtures for the data tier: a tiny corpus with bad files, and settings pointing at tmp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrepair.config import Settings, read_params

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "How vexingly quick daft zebras jump!",
    "Sphinx of black quartz, judge my vow.",
    "The five boxing wizards jump quickly.",
    "Jackdaws love my big sphinx of quartz.",
    "Crème brûlée and café au lait are on the menu today.",
    "A wizard's job is to vex chumps quickly in fog.",
]


def tiny_settings(lake: Path, corpus: Path, **sections: dict) -> Settings:
    """Repository params (profiles and all) with the lake in `lake` and only `corpus` as input."""
    values = read_params(REPO_PARAMS)
    values["storage"] = {"root": str(lake)}
    values["corpus"] = {**values["corpus"], "builtin": [], "paths": [str(corpus)]}
    values["gold"] = {**values["gold"], "validation_fraction": 0.2, "test_fraction": 0.3}
    for name, update in sections.items():
        values[name] = {**values.get(name, {}), **update}
    return Settings(**values)


def write_corpus(root: Path) -> Path:
    """A small corpus: good text, a duplicate, and every kind of bad input."""
    corpus = root / "corpus"
    (corpus / "nested").mkdir(parents=True)
    (corpus / "good.txt").write_text("\n\n".join(SENTENCES * 2), encoding="utf-8")
    (corpus / "nested" / "copy.md").write_text(SENTENCES[0], encoding="utf-8")  # a duplicate
    (corpus / "latin.txt").write_bytes("Un café très doux, s'il vous plaît.".encode("cp1252"))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "huge.txt").write_text("word " * 5000, encoding="utf-8")
    (corpus / "lines.jsonl").write_text(
        '{"text": "Jsonl lines become documents of their own."}\n'
        "{not json}\n"
        '{"other": "no text field here"}\n'
        '{"text": "1234 5678 9012 3456 7890 !!!!"}\n',
        encoding="utf-8",
    )
    (corpus / "notes.bin").write_bytes(b"skipped: unknown extension")
    return corpus


@pytest.fixture
def settings_for():
    """`tiny_settings` itself, for a test with a corpus of its own (importing it from conftest
    would find whichever conftest module pytest loaded first)."""
    return tiny_settings


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path, corpus: Path):
    """Build tiny settings with some sections changed, e.g. make_settings(gold={...})."""

    def make(**sections: dict) -> Settings:
        sections["silver"] = {"max_line_bytes": 1000, **sections.get("silver", {})}
        return tiny_settings(tmp_path / "lake", corpus, **sections)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()
