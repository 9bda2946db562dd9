"""EditEncoder forward pass: torch float32 vs bfloat16 vs ONNX Runtime float32 / int8, side by side.

Issue 19, fast inference: "Measure ONNX Runtime, with and without int8 dynamic quantization,
against torch. Keep whichever is faster at the same validation CER." One forward pass here is
what `EditDecoder` runs per pass: the encoder over BOS-prefixed, padded ids and the three heads
(action, gap, character). Variants:

- torch fp32: the model as `model.dtype: float32` loads it.
- torch bf16 autocast: float32 weights under `torch.autocast("cpu", bfloat16)`.
- torch bf16 weights: the model as `model.dtype: auto` loads it on a CPU with AVX512-BF16/AMX.
- ORT fp32: the encoder exported to ONNX (TorchScript exporter, opset 17) and run by ONNX
  Runtime's CPU provider; the heads stay in torch (float32, a few matmuls).
- ORT int8: the same graph after `onnxruntime.quantization.quantize_dynamic` (int8 weights,
  activations quantized per call).

The tandem-repeat features are computed in torch and fed to the ONNX graph as a second input:
the TorchScript exporter cannot export `Tensor.unfold` over a dynamic length. Their time is part
of every ORT call. The encoder layers are exported from a plain re-statement of the same
computation with the same weights (`_WithFeatures`), since a traced `nn.MultiheadAttention` keeps
the example's length in its reshapes; the agreement columns check it against the real model.

Shapes: batch 1 x one ~100-character damaged window, and batch 32 x ~150-character windows
(held-out KJV verses, `default` profile). Each variant is timed --trials times (the order rotated
each trial), median of --calls calls; ratios are torch fp32 ms / variant ms (above 1: faster).
Agreement with torch fp32 over the real (not padded) positions: max |diff| of the logits and the
share of positions where the argmax agrees, per head.

With --cer-rows N it also repairs the first N main-profile gold/validation rows (data/lake, read
without Spark) through `Repairer` with each variant and prints the CER (meaningful only for a
trained model).

    .venv/bin/python benchmarks/onnx_speed.py [--model DIR] [--threads 2] [--calls 30]
        [--trials 2] [--cer-rows 300]
    make bench-onnx MODEL=artifacts/edit-train/model

Without --model a random-init `small` edit model is built (seconds). Needs onnx and onnxruntime
(`pip install -e .[bench]`). Writes benchmarks/results/onnx_speed.json.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from _common import RESULTS_DIR, ROOT, print_context, run_context, write_report
from decoding_speed import kjv_pairs
from edit_models import random_edit_model
from textrepair.model.edit import PAD, EditEncoder, bos, pad_rows, repeat_features

RESULTS = RESULTS_DIR / "onnx_speed.json"
HEADS = ("action", "gap", "char")
Logits = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def main() -> None:
    args = _parse()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        model_dir = args.model or random_edit_model(Path(tmp) / "random-edit-small")
        from textrepair.model.families import load_model

        fp32, vocab, config = load_model(model_dir)
        fp32 = fp32.float().eval()
        bf16 = _bf16_copy(fp32)
        onnx_fp32, onnx_int8 = _export(fp32, Path(tmp))
        variants = {
            "torch fp32": TorchVariant(fp32),
            "torch bf16 autocast": TorchVariant(fp32, autocast=True),
            "torch bf16 weights": TorchVariant(bf16),
            "ORT fp32": OrtEncoder(onnx_fp32, fp32, args.threads),
            "ORT int8 dynamic": OrtEncoder(onnx_int8, fp32, args.threads),
        }
        shapes = _shapes(vocab, args.seed)
        report: dict[str, Any] = {
            "model": str(args.model or "random-init small edit model (made on the fly)"),
            "parameters": sum(p.numel() for p in fp32.parameters()),
            "threads": torch.get_num_threads(),
            "calls": args.calls,
            "trials": args.trials,
            "onnx_mb": {
                "fp32": round(onnx_fp32.stat().st_size / 2**20, 1),
                "int8": round(onnx_int8.stat().st_size / 2**20, 1),
            },
            "versions": _versions(),
            **run_context(),
            "shapes": {},
        }
        for name, ids in shapes.items():
            report["shapes"][name] = _measure(variants, ids, args)
        if args.cer_rows:
            report["cer"] = _cer(model_dir, variants, vocab, config, args.cer_rows)
    _print(report)
    write_report(RESULTS, report)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="a saved edit model (default: random small)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per variant and trial")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--cer-rows", type=int, default=0, help="gold/validation rows for CER")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


# ------------------------------------------------------------------------------------ variants
class TorchVariant:
    """The model itself, optionally under bfloat16 autocast; logits of the three heads."""

    def __init__(self, model: EditEncoder, autocast: bool = False) -> None:
        self.model, self.autocast = model, autocast

    def context(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def logits(self, ids: torch.Tensor) -> Logits:
        with self.context():
            return _heads(self.model, self.model(ids))

    def encoder(self) -> Any:
        return self.model


class OrtEncoder:
    """An ONNX Runtime session that stands in for `EditEncoder` inside `EditDecoder`: calling it
    gives the hidden states; the heads and `max_positions` are the torch model's."""

    def __init__(self, path: Path, model: EditEncoder, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.action_head, self.gap_head = model.action_head, model.gap_head
        self.char_head, self.max_positions = model.char_head, model.max_positions

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        features = repeat_features(ids, ids != PAD)
        (hidden,) = self.session.run(None, {"ids": ids.numpy(), "features": features.numpy()})
        return torch.from_numpy(hidden)

    def context(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    @torch.no_grad()
    def logits(self, ids: torch.Tensor) -> Logits:
        return _heads(self, self(ids))

    def encoder(self) -> Any:
        return self


def _heads(model: Any, hidden: torch.Tensor) -> Logits:
    return model.action_head(hidden[:, 1:]), model.gap_head(hidden), model.char_head(hidden)


def _bf16_copy(model: EditEncoder) -> EditEncoder:
    import copy

    return copy.deepcopy(model).to(torch.bfloat16).eval()


class _WithFeatures(nn.Module):
    """`EditEncoder.forward` in exportable form, same weights: the repeat features are an input
    (no unfold), and the encoder layers are written out with reshapes that keep batch and length
    dynamic (traced `nn.MultiheadAttention` bakes the example's length into its reshapes)."""

    def __init__(self, model: EditEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        m = self.model
        padding = ids == PAD
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = m.embed(ids) + m.positions(positions) + m.features(features)
        x = x + F.gelu(m.conv(x.transpose(1, 2)).transpose(1, 2))
        x = m.conv_norm(x)
        for layer in m.encoder.layers:  # norm_first layers, GELU, no final encoder norm
            x = x + _attention(layer.self_attn, layer.norm1(x), padding)
            x = x + layer.linear2(F.gelu(layer.linear1(layer.norm2(x))))
        return m.norm(x)


def _attention(attn: nn.MultiheadAttention, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    heads, width = attn.num_heads, attn.embed_dim // attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(x.shape[0], -1, heads, width).transpose(1, 2) for t in (q, k, v))
    scores = (q @ k.transpose(-1, -2)) * width**-0.5
    scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape[0], -1, attn.embed_dim)
    return attn.out_proj(out)


def _export(model: EditEncoder, tmp: Path) -> tuple[Path, Path]:
    """The encoder as ONNX (dynamic batch and length), and its int8 dynamic quantization."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    wrapper = _WithFeatures(model).eval()
    ids = pad_rows([bos(range(4, 40)), bos(range(4, 30))])
    features = repeat_features(ids, ids != PAD)
    with torch.no_grad():
        drift = float((wrapper(ids, features) - model(ids)).abs().max())
    assert drift < 1e-3, f"the exportable encoder drifted from the model: {drift}"
    fp32, int8 = tmp / "encoder.onnx", tmp / "encoder.int8.onnx"
    dynamic = {"ids": {0: "batch", 1: "length"}, "features": {0: "batch", 1: "length"}}
    dynamic["hidden"] = {0: "batch", 1: "length"}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (ids, features),
            str(fp32),
            input_names=["ids", "features"],
            output_names=["hidden"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


# ------------------------------------------------------------------------------------- timings
def _shapes(vocab: Any, seed: int) -> dict[str, torch.Tensor]:
    _, held_out = kjv_pairs(192, seed)
    damaged = [c for c, t in held_out if c != t]
    rng = random.Random(seed)
    one = rng.choice([c for c in damaged if 95 <= len(c) <= 105])
    many = rng.sample([c for c in damaged if 140 <= len(c) <= 160], 32)
    return {
        f"batch 1 x {len(one)} chars": pad_rows([bos(vocab.encode(one))]),
        f"batch 32 x {min(map(len, many))}-{max(map(len, many))} chars": pad_rows(
            [bos(vocab.encode(w)) for w in many]
        ),
    }


def _measure(variants: dict[str, Any], ids: torch.Tensor, args: argparse.Namespace) -> dict:
    valid = ids != PAD
    reference = variants["torch fp32"].logits(ids)
    rows: dict[str, dict[str, Any]] = {name: {"ms": []} for name in variants}
    names = list(variants)
    for trial in range(args.trials):
        order = names[trial % len(names) :] + names[: trial % len(names)]
        for name in order:
            rows[name]["ms"].append(_time(variants[name].logits, ids, args.calls))
    for name, variant in variants.items():
        rows[name].update(_agreement(reference, variant.logits(ids), valid))
    base = rows["torch fp32"]["ms"]
    for row in rows.values():
        row["speedup"] = [round(b / ms, 2) for b, ms in zip(base, row["ms"], strict=True)]
    return rows


def _time(call: Callable[[torch.Tensor], Any], ids: torch.Tensor, calls: int) -> float:
    for _ in range(3):
        call(ids)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        call(ids)
        seconds.append(time.perf_counter() - start)
    return round(statistics.median(seconds) * 1000, 2)


def _agreement(reference: Logits, logits: Logits, valid: torch.Tensor) -> dict[str, Any]:
    masks = (valid[:, 1:], valid, valid)  # actions are per character (no BOS slot)
    out: dict[str, Any] = {}
    for head, ref, got, mask in zip(HEADS, reference, logits, masks, strict=True):
        ref, got = ref.float()[mask], got.float()[mask]
        out[f"{head}_max_abs_diff"] = float(f"{float((ref - got).abs().max()):.3g}")
        agree = (ref.argmax(-1) == got.argmax(-1)).float().mean()
        out[f"{head}_argmax_agree"] = round(float(agree), 4)
    return out


# ----------------------------------------------------------------------------------------- CER
def _cer(
    model_dir: Path, variants: dict[str, Any], vocab: Any, config: Any, count: int
) -> dict[str, Any]:
    """CER of `Repairer` on the first `count` main-profile gold/validation rows, per variant."""
    from textrepair.config import load_settings
    from textrepair.data.gold import gold_rows
    from textrepair.model.edit import EditDecoding
    from textrepair.model.edit_train import character_error_rate
    from textrepair.model.repairer import Repairer

    settings = load_settings(ROOT / "params.yaml")
    rows = gold_rows(settings, ("validation",), profile=settings.gold.profile)
    rows = rows[:count]
    corrupted, clean = [r["corrupted"] for r in rows], [r["clean"] for r in rows]
    decoding = EditDecoding.from_settings(config.edit)
    out: dict[str, Any] = {
        "rows": len(rows),
        "decoding": {f: getattr(decoding, f) for f in decoding.__dataclass_fields__},
        "identity": round(character_error_rate(corrupted, clean), 5),
    }
    shipped = Repairer.load(model_dir)  # as served: dtype from the manifest
    outputs = {}
    start = time.perf_counter()
    outputs["Repairer.load (as served)"] = [r.text for r in shipped.repair(corrupted)]
    seconds = {"Repairer.load (as served)": time.perf_counter() - start}
    for name, variant in variants.items():
        repairer = Repairer(variant.encoder(), vocab, "edit", edit_decoding=decoding)
        start = time.perf_counter()
        with variant.context():
            outputs[name] = [r.text for r in repairer.repair(corrupted)]
        seconds[name] = time.perf_counter() - start
    reference = outputs["torch fp32"]
    out["served_dtype"] = str(next(shipped.model.parameters()).dtype).removeprefix("torch.")
    out["variants"] = {
        name: {
            "cer": round(character_error_rate(texts, clean), 5),
            "outputs_equal_to_fp32": sum(a == b for a, b in zip(texts, reference, strict=True)),
            "seconds": round(seconds[name], 2),
        }
        for name, texts in outputs.items()
    }
    return out


# ---------------------------------------------------------------------------------------- print
def _print(report: dict[str, Any]) -> None:
    print(
        f"\nEditEncoder forward + heads, {report['model']} ({report['parameters']:,} parameters), "
        f"{report['threads']} threads, median of {report['calls']} calls, "
        f"{report['trials']} trials"
    )
    print_context(report)
    print(f"versions: {report['versions']}; ONNX MB: {report['onnx_mb']}")
    for shape, rows in report["shapes"].items():
        print(f"\n{shape}")
        header = ("variant", "ms (per trial)", "speedup vs fp32", "max|diff| act/gap/char")
        header += ("argmax agree act/gap/char",)
        print(f"{header[0]:<22}{header[1]:>18}{header[2]:>18}{header[3]:>28}{header[4]:>28}")
        for name, row in rows.items():
            ms = " / ".join(f"{v:.1f}" for v in row["ms"])
            speed = " / ".join(f"{v:.2f}x" for v in row["speedup"])
            diff = "/".join(f"{row[f'{h}_max_abs_diff']:.3g}" for h in HEADS)
            agree = "/".join(f"{row[f'{h}_argmax_agree']:.2%}" for h in HEADS)
            print(f"{name:<22}{ms:>18}{speed:>18}{diff:>28}{agree:>28}")
    if "cer" in report:
        cer = report["cer"]
        print(
            f"\nCER on {cer['rows']} gold/validation rows (identity {cer['identity']:.4f}), "
            f"decoding {cer['decoding']}; served weights: {cer['served_dtype']}"
        )
        print(f"{'variant':<28}{'CER':>9}{'reduction':>11}{'= fp32 out':>12}{'seconds':>9}")
        for name, row in cer["variants"].items():
            reduction = 1 - row["cer"] / cer["identity"] if cer["identity"] else 0.0
            print(
                f"{name:<28}{row['cer']:>9.4f}{reduction:>11.1%}"
                f"{row['outputs_equal_to_fp32']:>12}{row['seconds']:>9.1f}"
            )


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__, "ort": onnxruntime.__version__}


if __name__ == "__main__":
    main()
