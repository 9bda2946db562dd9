"""Rebuilding a release never deletes the old one before the new one is in place (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from textrepair.dirswap import replace_dir
from textrepair.lifecycle import release
from textrepair.lifecycle.release import build_release


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The packaging is under test, not the model: any manifest and card will do.
    monkeypatch.setattr(release, "read_manifest", lambda path: {"weights": "full", "base": None})
    monkeypatch.setattr(release, "model_card", lambda *args: "card\n")
    model = tmp_path / "trained"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"old weights")
    return model


def test_a_rebuild_that_fails_to_move_in_keeps_the_old_release(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "models" / "tiny"
    build_release(trained, {}, out, train_info={})
    (trained / "model.safetensors").write_bytes(b"new weights")

    real_rename = Path.rename

    def rename_fails_once_into_the_release(self: Path, target: Path) -> Path:
        if Path(target) == out and not failures:
            failures.append(self)
            raise OSError("simulated: the disk filled up while the release moved in")
        return real_rename(self, target)

    failures: list[Path] = []
    monkeypatch.setattr(Path, "rename", rename_fails_once_into_the_release)
    with pytest.raises(OSError, match="simulated"):
        build_release(trained, {}, out, train_info={})

    assert (out / "model.safetensors").read_bytes() == b"old weights"
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")] == ["tiny"]


def test_a_rebuild_replaces_the_release(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "tiny"
    build_release(trained, {}, out, train_info={})
    (out / "stale.txt").write_text("left from the old release")
    (trained / "model.safetensors").write_bytes(b"new weights")

    assert build_release(trained, {}, out, train_info={}) == out

    assert (out / "model.safetensors").read_bytes() == b"new weights"
    assert not (out / "stale.txt").exists()
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")] == ["tiny"]


def test_the_next_replacement_cleans_up_after_one_that_crashed(tmp_path: Path) -> None:
    target = tmp_path / "base"
    aside = tmp_path / ".base.old-0123abcd"  # a crash between the renames left only this
    aside.mkdir()
    (aside / "weights").write_text("old")
    new = tmp_path / "new"
    new.mkdir()
    (new / "weights").write_text("new")

    assert replace_dir(new, target) == target

    assert (target / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".base.lock", "base"]
