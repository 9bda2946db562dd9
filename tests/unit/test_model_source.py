"""model.source: what a directory or an MLflow URI resolves to, and the one version id of it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from textrepair.config import Settings, read_params
from textrepair.model.families import MANIFEST
from textrepair.model.source import (
    SERVING_INFO,
    ModelInfo,
    champion_uri,
    is_alias_uri,
    is_model_dir,
    resolve,
)


def _model_dir(path: Path, weights: bytes = b"weights") -> Path:
    """Enough of a model directory for resolution: a manifest and a safetensors file."""
    path.mkdir()
    (path / MANIFEST).write_text('{"format": 1}', encoding="utf-8")
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_a_directory_is_named_by_the_hash_of_its_weights_and_manifest(tmp_path):
    model = _model_dir(tmp_path / "my-model")
    target, info = resolve(str(model))
    digest = hashlib.sha256(b'weights{"format": 1}').hexdigest()[:12]
    assert target == str(model) and is_model_dir(target)
    assert info == ModelInfo("my-model", f"dir:my-model@{digest}", None, str(model))
    (model / "model.safetensors").write_bytes(b"other weights")
    assert resolve(str(model))[1].version != info.version  # new weights, new id


def test_batch_scoring_records_the_version_id_serving_reports(tmp_path):
    from textrepair.scoring import resolve_model

    model = _model_dir(tmp_path / "m")
    pinned = resolve_model(str(model))
    assert pinned.info == resolve(str(model))[1] and pinned.version == pinned.info.version
    assert pinned.local_dir == str(model.absolute())


def test_an_exported_directory_keeps_its_registry_identity(tmp_path):
    model = _model_dir(tmp_path / "exported")
    saved = {"name": "textrepair", "version": "3", "alias": "champion", "source": "x"}
    (model / SERVING_INFO).write_text(json.dumps(saved), encoding="utf-8")
    assert resolve(str(model))[1] == ModelInfo("textrepair", "3", "champion", str(model))


def test_registry_and_other_uris(tmp_path):
    assert resolve("models:/textrepair/4") == (
        "models:/textrepair/4",
        ModelInfo("textrepair", "4", None, "models:/textrepair/4"),
    )
    assert resolve("runs:/abc123/model")[1].version == "runs:/abc123/model"
    with pytest.raises(FileNotFoundError, match=MANIFEST):
        resolve(str(tmp_path / "nowhere"))
    assert not is_model_dir(tmp_path)


def test_champion_uri_from_settings_or_a_name():
    params = read_params(Path(__file__).parents[2] / "params.yaml")
    settings = Settings(**{**params, "registry": {"model_name": "repairs"}})
    assert champion_uri(settings) == "models:/repairs@champion"
    assert champion_uri("textrepair") == "models:/textrepair@champion"
    assert is_alias_uri(champion_uri("textrepair"))
    assert not is_alias_uri("models:/textrepair/1")


def test_the_label_names_version_and_alias():
    info = ModelInfo("textrepair", "3", "champion", "models:/textrepair@champion")
    assert info.label() == "textrepair version 3 @champion (models:/textrepair@champion)"
    assert info.to_dict()["version"] == "3"


@pytest.mark.slow
def test_an_alias_resolves_to_the_exact_version_it_names_now(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    client.create_registered_model("m")
    for _ in range(2):
        client.create_model_version("m", source=str(tmp_path))
    client.set_registered_model_alias("m", "champion", "1")
    assert resolve("models:/m@champion", uri) == (
        "models:/m/1",
        ModelInfo("m", "1", "champion", "models:/m@champion"),
    )
    client.set_registered_model_alias("m", "champion", "2")
    assert resolve("models:/m@champion", uri)[0] == "models:/m/2"
