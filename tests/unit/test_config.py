"""Configuration: params.yaml, environment overrides and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from textrepair.config import MutationType, Settings, load_settings, read_params

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"


def test_repository_params_load_and_name_every_required_profile():
    settings = load_settings(REPO_PARAMS)
    names = set(settings.mutation_profiles)
    assert {"light", "default", "heavy"} <= names
    assert {t.value for t in MutationType} <= names
    for kind in MutationType:
        assert set(settings.mutation_profiles[kind.value]) == {kind}
    assert set(settings.mutation_profiles["default"]) == set(MutationType)


def test_environment_overrides_the_file(monkeypatch):
    monkeypatch.setenv("TEXTREPAIR_SPARK__MASTER", "local[1]")
    monkeypatch.setenv("TEXTREPAIR_STORAGE__ROOT", "abfss://lake@acct.dfs.core.windows.net/tr")
    settings = load_settings(REPO_PARAMS)
    assert settings.spark.master == "local[1]"
    assert settings.lake_path("gold") == "abfss://lake@acct.dfs.core.windows.net/tr/gold"
    assert settings.spark.conf["spark.sql.shuffle.partitions"] == "8"  # the rest stays


def test_params_path_from_environment(tmp_path, monkeypatch):
    params = tmp_path / "p.yaml"
    params.write_text("seed: 7\n")
    monkeypatch.setenv("TEXTREPAIR_PARAMS", str(params))
    assert read_params() == {"seed": 7}


def test_unknown_profile_and_bad_values_are_clear_errors():
    values = read_params(REPO_PARAMS)
    with pytest.raises(ValidationError, match="unknown mutation profile"):
        Settings(**{**values, "gold": {**values["gold"], "profile": "nope"}})
    with pytest.raises(ValidationError, match="validation_fraction"):
        Settings(
            **{
                **values,
                "gold": {**values["gold"], "validation_fraction": 0.6, "test_fraction": 0.5},
            }
        )
    with pytest.raises(ValidationError, match="extra"):
        Settings(**{**values, "sparkk": {}})


def test_importing_does_not_touch_the_filesystem(tmp_path):
    # A fresh interpreter, not importlib.reload: reloaded classes (Settings) differ from the ones
    # other tests hold, and cloudpickle then ships them to Spark workers by value, which breaks.
    import subprocess
    import sys

    modules = (
        *("config", "data.mutations", "data.segment", "data.tables", "data.corpus", "cli"),
        *("stages.clean", "model.source", "scoring"),
    )
    code = "; ".join(f"import textrepair.{module}" for module in modules)
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
