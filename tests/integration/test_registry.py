"""Promotion and rollback through a real MLflow registry (temporary sqlite store)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from textrepair.config import MlflowConfig, RegistryConfig
from textrepair.lifecycle.registry import (
    CHALLENGER,
    CHAMPION,
    RegistryError,
    decide,
    promote,
    rollback,
)
from textrepair.lifecycle.tracking import configure_mlflow

CONFIG = RegistryConfig(model_name="textrepair-test", cer_margin=0.02, max_broken_rate=0.005)


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configure_mlflow(
        MlflowConfig(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root="artifacts")
    )
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def _register(times: int) -> None:
    for _ in range(times):
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="model",
                python_model=Echo(),
                pip_requirements=["mlflow"],
                registered_model_name=CONFIG.model_name,
            )


def _scorer(scores):
    calls = []

    def score(version):
        calls.append(version)
        return scores[version]

    score.calls = calls
    return score


def test_first_version_becomes_champion_and_a_better_one_replaces_it(client):
    _register(2)
    scores = {
        "1": {"cer_out": 0.10, "broken_rate": 0.001},
        "2": {"cer_out": 0.05, "broken_rate": 0.0},
    }

    first = promote(client, CONFIG, _scorer(scores), version="1")
    assert first.promoted and first.reason == "no champion yet"
    assert str(client.get_model_version_by_alias(CONFIG.model_name, CHAMPION).version) == "1"

    score = _scorer(scores)
    second = promote(client, CONFIG, score)  # defaults to the latest version
    assert second.challenger == "2" and second.promoted
    assert sorted(score.calls) == ["1", "2"]  # both scored on the same test set
    assert str(client.get_model_version_by_alias(CONFIG.model_name, CHAMPION).version) == "2"
    assert str(client.get_model_version_by_alias(CONFIG.model_name, CHALLENGER).version) == "2"
    tags = client.get_model_version(CONFIG.model_name, "2").tags
    assert tags["promotion.decision"] == "promoted"
    assert tags["promotion.champion_version"] == "1"
    assert float(tags["promotion.champion_cer"]) == pytest.approx(0.10)


def test_a_challenger_within_the_margin_or_breaking_clean_text_is_rejected(client):
    _register(3)
    scores = {
        "1": {"cer_out": 0.100, "broken_rate": 0.0},
        "2": {"cer_out": 0.099, "broken_rate": 0.0},  # better, but by less than 2%
        "3": {"cer_out": 0.010, "broken_rate": 0.02},  # much better CER, breaks clean text
    }
    promote(client, CONFIG, _scorer(scores), version="1")
    for version, words in (("2", "does not beat"), ("3", "broken rate")):
        decision = promote(client, CONFIG, _scorer(scores), version=version)
        assert not decision.promoted and words in decision.reason
        tags = client.get_model_version(CONFIG.model_name, version).tags
        assert tags["promotion.decision"] == "rejected"
    assert str(client.get_model_version_by_alias(CONFIG.model_name, CHAMPION).version) == "1"


def test_rollback_restores_the_previous_champion(client):
    _register(2)
    scores = {"1": {"cer_out": 0.2, "broken_rate": 0.0}, "2": {"cer_out": 0.1, "broken_rate": 0.0}}
    promote(client, CONFIG, _scorer(scores), version="1")
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(client, CONFIG)
    promote(client, CONFIG, _scorer(scores), version="2")
    assert rollback(client, CONFIG) == "1"
    assert str(client.get_model_version_by_alias(CONFIG.model_name, CHAMPION).version) == "1"
    assert client.get_model_version(CONFIG.model_name, "2").tags["rolled_back"] == "true"


def test_promote_without_versions_is_a_clear_error(client):
    with pytest.raises(RegistryError, match="no registered versions"):
        promote(client, CONFIG, _scorer({}))


def test_decide_margin_is_relative():
    champion = {"cer_out": 0.10, "broken_rate": 0.0}
    assert decide({"cer_out": 0.098, "broken_rate": 0.0}, champion, CONFIG)[0]
    assert not decide({"cer_out": 0.0985, "broken_rate": 0.0}, champion, CONFIG)[0]


# --------------------------------------------------------------------------- concurrent moves
def _champion(client) -> str:
    return str(client.get_model_version_by_alias(CONFIG.model_name, CHAMPION).version)


def test_promote_refuses_when_the_champion_moved_while_it_scored(client):
    _register(3)
    scores = {v: {"cer_out": 0.3 - 0.1 * int(v), "broken_rate": 0.0} for v in ("1", "2", "3")}
    promote(client, CONFIG, _scorer(scores), version="1")

    def score_while_another_process_promotes(version):
        if version == "1":  # the champion is scored: meanwhile @champion moves to 3
            client.set_registered_model_alias(CONFIG.model_name, CHAMPION, "3")
        return scores[version]

    with pytest.raises(RegistryError, match="moved from version 1 to 3"):
        promote(client, CONFIG, score_while_another_process_promotes, version="2")
    assert _champion(client) == "3"
    assert "promotion.decision" not in client.get_model_version(CONFIG.model_name, "2").tags


def test_rollback_refuses_when_the_champion_is_not_the_last_history_entry(client):
    _register(3)
    scores = {"1": {"cer_out": 0.2, "broken_rate": 0.0}, "2": {"cer_out": 0.1, "broken_rate": 0.0}}
    promote(client, CONFIG, _scorer(scores), version="1")
    promote(client, CONFIG, _scorer(scores), version="2")
    client.set_registered_model_alias(CONFIG.model_name, CHAMPION, "3")  # moved by hand

    with pytest.raises(RegistryError, match="ends with version 2 but @champion is version 3"):
        rollback(client, CONFIG)
    assert _champion(client) == "3"


class _RacingClient:
    """An MlflowClient that runs `race` once, just before its first registered-model tag write."""

    def __init__(self, client, race):
        self._client, self._race = client, race

    def __getattr__(self, name):
        return getattr(self._client, name)

    def set_registered_model_tag(self, *args):
        race, self._race = self._race, None
        if race:
            race()
        return self._client.set_registered_model_tag(*args)


def test_two_promotes_at_once_both_stay_in_the_history(client):
    _register(3)
    scores = {v: {"cer_out": 0.4 - 0.1 * int(v), "broken_rate": 0.0} for v in ("1", "2", "3")}
    promote(client, CONFIG, _scorer(scores), version="1")

    # Version 2's promotion records its move while another process promotes version 3.
    racing = _RacingClient(client, lambda: promote(client, CONFIG, _scorer(scores), version="3"))
    assert promote(racing, CONFIG, _scorer(scores), version="2").promoted

    assert _champion(client) == "3"
    assert rollback(client, CONFIG) == "2"
    assert rollback(client, CONFIG) == "1"
