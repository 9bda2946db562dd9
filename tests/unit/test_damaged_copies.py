"""`train.damaged_copies`: fresh, reproducible damage of gold/train's clean windows."""

from __future__ import annotations

from pathlib import Path

from textrepair.config import load_settings
from textrepair.stages.corrupt import corrupt_rows
from textrepair.stages.train import damaged_copies

PARAMS = Path(__file__).parents[2] / "params.yaml"
CLEAN = "And God said, Let there be light: and there was light. And God saw the light."


def _rows(n: int) -> list[dict[str, str]]:
    return [{"id": f"w{i:03d}", "clean": f"{i}: {CLEAN}"} for i in range(n)]


def test_each_row_gets_its_copies_and_a_rerun_gives_the_same_pairs():
    settings = load_settings(PARAMS)
    pairs = damaged_copies(_rows(40), settings, copies=3)
    assert len(pairs) == 120
    assert [clean for _, clean in pairs[:3]] == [f"0: {CLEAN}"] * 3
    assert pairs == damaged_copies(_rows(40), settings, copies=3)


def test_copies_differ_from_gold_damage_and_from_each_other():
    settings = load_settings(PARAMS)
    rows = _rows(40)
    pairs = damaged_copies(rows, settings, copies=2)
    silver = [{"text": r["clean"], "window_id": r["id"], "source": "kjv"} for r in rows]
    gold = corrupt_rows(silver, settings)
    gold_damage = [g["corrupted"] for g in gold if g["profile"] == settings.gold.profile]
    first, second = [c for c, _ in pairs[0::2]], [c for c, _ in pairs[1::2]]
    assert sum(a != b for a, b in zip(first, gold_damage, strict=True)) >= 30
    assert sum(a != b for a, b in zip(first, second, strict=True)) >= 30


def test_the_clean_fraction_holds_for_copies():
    base = load_settings(PARAMS)
    settings = base.model_copy(
        update={"gold": base.gold.model_copy(update={"clean_fraction": 0.5})}
    )
    pairs = damaged_copies(_rows(200), settings, copies=1)
    untouched = sum(corrupted == clean for corrupted, clean in pairs)
    assert 70 <= untouched <= 130
