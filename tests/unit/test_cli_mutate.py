"""`textrepair mutate`: plain and JSON output, determinism, profile errors, help."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.config import load_settings
from textrepair.data.mutations import Mutation, restore

PARAMS = Path(__file__).parents[2] / "params.yaml"
PROFILE_NAMES = sorted(load_settings(PARAMS).mutation_profiles)
TEXT = "In the beginning God created the heaven and the earth. And the earth was without form."
SINGLE_TYPES = {"deletion", "substitution", "insertion", "duplication", "reversal"}
UNICODE_TEXT = "Café naïve e\u0301 日本語 👩\u200d👩\u200d👧 שלום " * 4


@pytest.fixture(autouse=True)
def _hermetic(tmp_path, monkeypatch):
    """Run from an empty directory with no configuration from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("TEXTREPAIR_")]:
        monkeypatch.delenv(name)


def run(*args: str):
    return CliRunner().invoke(app, ["mutate", *args, "--params", str(PARAMS)])


def flat(output: str) -> str:
    """Output without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_plain_output_is_only_the_corrupted_text(profile):
    text = " ".join([TEXT] * 4)  # ~350 characters: every profile damages it
    result = run(text, "--profile", profile, "--seed", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("\n")
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(run(text, "--profile", profile, "--seed", "5", "--json").stdout)
    assert record["mutations"]
    assert lines[0] == record["corrupted"] != text


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("text", [TEXT, UNICODE_TEXT, "x", ""])
def test_json_records_restore_the_clean_text(profile, text):
    result = run(text, "--profile", profile, "--seed", "11", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) == {"clean", "corrupted", "profile", "seed", "mutations"}
    assert (record["clean"], record["profile"], record["seed"]) == (text, profile, 11)
    events = [Mutation(**m) for m in record["mutations"]]
    for event in record["mutations"]:
        assert list(event) == ["type", "start", "length", "original", "replacement"]
    assert restore(record["corrupted"], events) == text
    assert {e.type for e in events} <= ({profile} if profile in SINGLE_TYPES else SINGLE_TYPES)


def test_same_seed_same_output_different_seed_different_output():
    first = run(TEXT, "--seed", "42")
    again = run(TEXT, "--seed", "42")
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout
    others = {run(TEXT, "--seed", str(seed)).stdout for seed in range(43, 48)}
    assert first.stdout not in others
    assert run(TEXT, "--seed", "42", "--json").stdout == run(TEXT, "--seed", "42", "--json").stdout


def test_default_seed_and_profile_are_stable():
    assert run(TEXT).stdout == run(TEXT, "--profile", "default", "--seed", "0").stdout


def test_unknown_profile_lists_known_profiles():
    result = run(TEXT, "--profile", "no-such-profile")
    assert result.exit_code != 0
    message = flat(result.output)
    assert "unknown profile 'no-such-profile'" in message
    for name in PROFILE_NAMES:
        assert name in message
    assert "known: " + ", ".join(PROFILE_NAMES) in message


def test_missing_params_file_means_the_built_in_profiles(tmp_path):
    # Hermetic: no params file, so the defaults (params.yaml's own profiles) apply.
    missing = str(tmp_path / "none.yaml")
    result = CliRunner().invoke(app, ["mutate", TEXT, "--profile", "nosuch", "--params", missing])
    assert result.exit_code != 0
    assert "known: default, deletion, duplication" in flat(result.output)
    result = CliRunner().invoke(app, ["mutate", TEXT, "--seed", "3", "--params", missing])
    assert result.exit_code == 0, result.output


def test_help():
    result = CliRunner().invoke(app, ["mutate", "--help"])
    assert result.exit_code == 0
    help_text = flat(result.output)
    for option in ("--profile", "--seed", "--json", "--params"):
        assert option in help_text
    top = CliRunner().invoke(app, ["--help"])
    assert top.exit_code == 0
    assert "mutate" in top.output
