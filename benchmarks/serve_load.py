"""Load benchmark of `textrepair serve` on loopback: micro-batching on vs off, side by side.

For each mode it starts `textrepair serve` in a subprocess on 127.0.0.1, then runs locust
headless (bounded by --seconds) at each concurrency, one user = one request at a time. Prints
throughput and p50/p95/p99 latency per (mode, concurrency), the batching/no-batching throughput
ratios and failed requests; writes benchmarks/results/serve_load.json.

    .venv/bin/python benchmarks/serve_load.py [--model PATH_OR_URI] [--seconds 20]
        [--concurrency 1 4 16] [--max-batch-size 32] [--max-wait-ms 10] [--threads 0]
        [--family byt5|edit] [--size tiny|small|base]
    make bench-serve MODEL=artifacts/edit-train/model

Without --model a random model of --family and --size is made on the fly (seconds; a random
byte-T5 decodes until its length budget, a worst case per byte; a random edit model tags many
characters as damaged, so it runs more fill rounds than a trained one). For a byte-T5 that copies
like a trained one: `benchmarks/decoding_speed.py --size small --save DIR`; the real one:
models:/textrepair@champion. Targets on 2 cores: >= 3x throughput from batching at concurrency 16,
and p50 at concurrency 1 for a 100-character sentence (2,000 variants of the one below, damaged by
the `default` mutation profile) <= 60 ms for the edit family (issue 19), <= 150 ms for the others.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import RESULTS_DIR, ROOT, print_context, run_context, write_report
from edit_models import random_edit_model

BIN = Path(sys.executable).parent
# 100 characters, damaged by the default profile's kinds of mutation.
SENTENCE = (
    "And God said, Let there be lihgt: and there was light. "
    "And God saw the the light, that it was goood."
)
assert len(SENTENCE) == 100
TARGET_P50_MS = {"edit": 60, "causal_lora": 150, "byt5": 150}  # at concurrency 1


def main() -> None:
    args = _parse()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _random_model(Path(tmp) / "model", args.family, args.size)
        (Path(tmp) / "texts.json").write_text(json.dumps(_texts(2000)))
        rows = []
        for batching in (True, False):
            with Server(model, batching, args) as url:
                for users in args.concurrency:
                    rows.append({"batching": batching, **_locust(url, users, args.seconds, tmp)})
    report = {
        "model": args.model or f"random {args.family} {args.size} (made on the fly)",
        "family": _family(model),
        "text_chars": len(SENTENCE),
        "seconds_per_run": args.seconds,
        "max_batch_size": args.max_batch_size,
        "max_wait_ms": args.max_wait_ms,
        "rows": rows,
        "throughput_ratio": _ratios(rows),
        **run_context(),
    }
    _print(report)
    write_report(RESULTS_DIR / "serve_load.json", report)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="Model directory or MLflow URI (default: random tiny).")
    parser.add_argument("--family", default="byt5", choices=["byt5", "edit"], help="random model")
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "base"])
    parser.add_argument("--seconds", type=int, default=20, help="Length of each locust run.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default).")
    return parser.parse_args()


def _texts(count: int) -> list[str]:
    """`count` different 100-character variants of SENTENCE, damaged by the default profile."""
    from textrepair.config import load_settings
    from textrepair.data.mutations import mutate_text

    profile = load_settings(ROOT / "params.yaml").mutation_profiles["default"]
    texts = [mutate_text(SENTENCE, profile, seed=seed)[0] for seed in range(count)]
    return [text[:100].ljust(100, ".") for text in texts]


def _random_model(path: Path, family: str, size: str) -> str:
    import torch

    if family == "edit":
        return str(random_edit_model(path, size))

    from textrepair.model.families import ModelConfig, build_model, save_model

    torch.manual_seed(0)
    config = ModelConfig(family="byt5", size=size, dropout=0.0)
    model, tokenizer = build_model(config)
    return str(save_model(model.eval(), tokenizer, config, path))


def _family(model: str) -> str | None:
    """The family named in a model directory's manifest (None for an MLflow URI)."""
    manifest = Path(model) / "textrepair_model.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))["family"]


class Server:
    """`textrepair serve` in a subprocess for the duration of a `with` block."""

    def __init__(self, model: str, batching: bool, args: argparse.Namespace) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ,
            "TEXTREPAIR_SERVE__MICRO_BATCHING": str(batching).lower(),
            "TEXTREPAIR_SERVE__MAX_BATCH_SIZE": str(args.max_batch_size),
            "TEXTREPAIR_SERVE__MAX_WAIT_MS": str(args.max_wait_ms),
            "TEXTREPAIR_SERVE__TORCH_THREADS": str(args.threads),
        }
        self.command = [
            sys.executable, "-m", "textrepair", "serve", "--port", str(self.port), "--model", model,
        ]  # fmt: skip

    def __enter__(self) -> str:
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would block it
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(self.log.read().decode(errors="replace")[-2000:])
            try:
                urllib.request.urlopen(f"{url}/readyz", timeout=2)
            except OSError:
                time.sleep(0.5)
                continue
            _warm_up(url)
            return url
        raise TimeoutError("the server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def _warm_up(url: str, requests: int = 3) -> None:
    for i in range(requests):
        body = json.dumps({"texts": [f"{SENTENCE} {i}"]}).encode()
        request = urllib.request.Request(
            f"{url}/v1/repair", data=body, headers={"content-type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=120).read()


def _locust(url: str, users: int, seconds: int, tmp: str) -> dict:
    prefix = Path(tmp) / f"locust-{users}-{time.monotonic_ns()}"
    command = [
        str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
        "--host", url, "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
        "--csv", str(prefix), "--only-summary", "--stop-timeout", "30", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_TEXTS": str(Path(tmp) / "texts.json")}
    subprocess.run(command, env=env, check=False, capture_output=True, timeout=seconds + 120)
    with open(f"{prefix}_stats.csv", newline="") as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    return {
        "concurrency": users,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        # N/A when no request finished within the run
        "p50_ms": _number(total["50%"]),
        "p95_ms": _number(total["95%"]),
        "p99_ms": _number(total["99%"]),
    }


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _ratios(rows: list[dict]) -> dict[str, float]:
    by = {(r["batching"], r["concurrency"]): r["rps"] for r in rows}
    return {
        str(c): round(by[(True, c)] / by[(False, c)], 2)
        for (batching, c) in by
        if batching and by.get((False, c))
    }


def _print(report: dict) -> None:
    print(f"model: {report['model']}; {report['text_chars']}-char text; ", end="")
    print(f"{report['seconds_per_run']} s per run")
    header = ("batching", "conc", "req", "fail", "req/s", "p50 ms", "p95 ms", "p99 ms")
    print(" ".join(f"{h:>8}" for h in header))
    for r in report["rows"]:
        cells = (
            "on" if r["batching"] else "off", r["concurrency"], r["requests"], r["failures"],
            f"{r['rps']:.1f}", _ms(r["p50_ms"]), _ms(r["p95_ms"]), _ms(r["p99_ms"]),
        )  # fmt: skip
        print(" ".join(f"{c:>8}" for c in cells))
    ratios = ", ".join(f"c={c}: {v}x" for c, v in report["throughput_ratio"].items())
    print(f"throughput with / without micro-batching: {ratios}")
    print(f"failed requests: {sum(r['failures'] for r in report['rows'])}")
    target = TARGET_P50_MS.get(report["family"] or "")
    at_one = [r for r in report["rows"] if r["concurrency"] == 1]
    if target and at_one:
        p50 = ", ".join(
            f"batching {'on' if r['batching'] else 'off'} {_ms(r['p50_ms'])} ms" for r in at_one
        )
        print(f"p50 at concurrency 1 ({report['family']}, target <= {target} ms): {p50}")
    print_context(report)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
