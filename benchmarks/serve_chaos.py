"""Load test of `textrepair serve` on loopback with clients that hang up and a lake that fails.

    .venv/bin/python benchmarks/serve_chaos.py [--requests 2000] [--concurrency 16]
        [--model DIR] [--timeout 2] [--out benchmarks/results/serve_chaos.json]

A bounded loop of --requests requests from --concurrency client threads against `textrepair
serve` (a subprocess on 127.0.0.1; without --model a random tiny byte-T5 made on the fly). Every
other request comes from a bad client: one that hangs up right after sending, or one that gives
up after a short read timeout (0.05-0.5 s). When half of the requests are done, the lake (the
prediction log's folder) is made unwritable: a file takes its place, which stops root too. It is
restored when three quarters are done and the server has seen a commit fail. A prober calls
/healthz every 20 ms throughout.

After the loop it waits until the server has committed or replayed every row, stops it (SIGTERM)
and reads the prediction log. Every text has its own fingerprint in the log (its length and its
number of digits), so each answer can be found there. Checks (exit status 1 if one fails):
- no 5xx except 503 `deadline_exceeded` (serve.request_timeout_seconds = --timeout);
- every request answered 200 appears in the log exactly once, and no text appears twice;
- no row dropped (textrepair_prediction_log_dropped_rows_total = 0).
/healthz p50/p99 are reported (overall and while the lake is down), not checked: a timing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from _common import RESULTS_DIR, ROOT, run_context, write_report

DIGITS_PER_LENGTH = 12  # fingerprints: (20 + i // 12 characters, i % 12 digits)


def main() -> None:
    args = _parse()
    context = run_context()
    with tempfile.TemporaryDirectory(prefix="serve-chaos-") as tmp:
        model = args.model or _random_model(Path(tmp) / "model")
        report = run(Path(tmp), model, args.requests, args.concurrency, args.timeout)
    report["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    report["context"] = {
        **context, "finished": _now(), "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    _print(report)
    write_report(Path(args.out), report)
    sys.exit(0 if report["passed"] else 1)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="Model directory (default: a random tiny byte-T5).")
    parser.add_argument("--requests", type=int, default=2000, help="Requests in the loop.")
    parser.add_argument("--concurrency", type=int, default=16, help="Client threads.")
    parser.add_argument("--timeout", type=float, default=2.0, help="request_timeout_seconds.")
    parser.add_argument("--out", default=str(RESULTS_DIR / "serve_chaos.json"))
    return parser.parse_args()


def text_for(index: int) -> str:
    """A text whose (length, digit count) no other index shares."""
    length, digits = 20 + index // DIGITS_PER_LENGTH, index % DIGITS_PER_LENGTH
    letters = ("the lord said unto him " * (1 + length // 20))[: length - digits]
    return "7" * digits + letters


def fingerprint(length: int, digit_share: float) -> tuple[int, int]:
    return length, round(digit_share * length)


@dataclass
class Outcomes:
    statuses: Counter = field(default_factory=Counter)  # (client kind, status or error)
    answered: list[int] = field(default_factory=list)  # indexes answered 200
    unexpected: list[str] = field(default_factory=list)  # 5xx other than deadline_exceeded
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, outcome: str, index: int | None = None) -> None:
        with self.lock:
            self.statuses[f"{kind} {outcome}"] += 1
            if index is not None:
                self.answered.append(index)


def run(tmp: Path, model: str, total: int, concurrency: int, timeout: float) -> dict:
    """Run the whole scenario against a fresh server; return the report."""
    lake = tmp / "lake"
    with Server(tmp, model, timeout) as url:
        prober = Prober(url)
        prober.start()
        outcomes, outage = _load(url, lake, total, concurrency, timeout, prober)
        recovered = _wait_for_recovery(url)
        metrics = _metrics(url)
        prober.stop()
    logged = _logged(lake)
    return _report(
        total, concurrency, timeout, outcomes, outage, prober, logged, metrics, recovered
    )


def _load(url: str, lake: Path, total: int, concurrency: int, timeout: float, prober: Prober):
    outcomes = Outcomes()
    indexes = iter(range(total))
    lock = threading.Lock()
    progress = {"done": 0}

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            # A good client waits longer than the server's deadline: it always gets an answer.
            _one_request(url, index, rng, outcomes, timeout + 30)
            with lock:
                progress["done"] += 1

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(concurrency)]
    for thread in threads:
        thread.start()
    outage = _lake_outage(url, lake, lambda: progress["done"], total, prober)
    for thread in threads:
        thread.join()
    return outcomes, outage


def _lake_outage(url: str, lake: Path, done, total: int, prober: Prober) -> dict[str, float]:
    """Take the lake down at half of the requests; bring it back at three quarters, once the
    server has seen at least one commit fail (so the outage is never missed)."""
    _wait(lambda: done() >= total // 2)
    offline = lake.with_name("lake.offline")
    lake.mkdir(parents=True, exist_ok=True)
    lake.rename(offline)
    lake.write_text("the lake is down")  # a file where the folder was: even root cannot write
    started = time.monotonic()
    prober.mark("down")
    _wait(lambda: done() >= total * 3 // 4)
    _wait(lambda: _metrics(url).get("textrepair_prediction_log_failed_commits_total", 0) > 0)
    lake.unlink()
    offline.rename(lake)
    prober.mark("up")
    return {"started": started, "restored": time.monotonic()}


def _wait(condition, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the load test is stuck")
        time.sleep(0.05)


def _one_request(
    url: str, index: int, rng: random.Random, outcomes: Outcomes, patience: float
) -> None:
    body = {"texts": [text_for(index)]}
    if index % 2 == 0:
        kind = "good"
        try:
            answer = requests.post(f"{url}/v1/repair", json=body, timeout=patience)
        except requests.RequestException as error:
            outcomes.record(kind, type(error).__name__)
            return
        _check(answer, outcomes)
        outcomes.record(kind, str(answer.status_code), index if answer.status_code == 200 else None)
    elif index % 4 == 1:
        _hang_up(url, body)
        outcomes.record("hang-up", "sent")
    else:
        try:
            answer = requests.post(f"{url}/v1/repair", json=body, timeout=rng.uniform(0.05, 0.5))
        except requests.Timeout:
            outcomes.record("impatient", "timed out")
            return
        _check(answer, outcomes)
        # Answered after all: it counts like any answer.
        outcomes.record("impatient", str(answer.status_code), index if answer.ok else None)


def _check(answer: requests.Response, outcomes: Outcomes) -> None:
    if answer.status_code < 500:
        return
    code = answer.json().get("error", {}).get("code") if answer.content else None
    if not (answer.status_code == 503 and code == "deadline_exceeded"):
        with outcomes.lock:
            outcomes.unexpected.append(f"{answer.status_code} {answer.text[:200]}")


def _hang_up(url: str, body: dict) -> None:
    """Send a whole request and close the connection without reading the answer."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/repair HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(head + payload)


class Prober:
    """GET /healthz every 20 ms from a process of its own (the client threads' GIL does not
    delay it); each latency is tagged with the lake's state."""

    STATES = ("up", "down")

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("fork")
        self._state = context.Value("i", 0)
        self._stop = context.Event()
        self._results = context.Queue()
        self._process = context.Process(
            target=_probe, args=(url, self._state, self._stop, self._results), daemon=True
        )
        self.samples: list[tuple[str, float]] = []
        self.failures = 0

    def start(self) -> None:
        self._process.start()

    def mark(self, state: str) -> None:
        self._state.value = self.STATES.index(state)

    def stop(self) -> None:
        self._stop.set()
        samples, self.failures = self._results.get(timeout=60)
        self.samples = [(self.STATES[state], seconds) for state, seconds in samples]
        self._process.join(timeout=60)


def _probe(url: str, state, stop, results) -> None:
    session = requests.Session()
    samples, failures = [], 0
    while not stop.wait(0.02):
        started = time.perf_counter()
        try:
            ok = session.get(f"{url}/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        if ok:
            samples.append((state.value, time.perf_counter() - started))
        else:
            failures += 1
    results.put((samples, failures))


def _wait_for_recovery(url: str, limit: float = 600) -> bool:
    """True once nothing is buffered and every spilled row has been replayed (or dropped)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        m = _metrics(url)
        spilled = m.get("textrepair_prediction_log_spilled_rows_total", 0)
        settled = m.get("textrepair_prediction_log_replayed_rows_total", 0) + m.get(
            "textrepair_prediction_log_dropped_rows_total", 0
        )
        if m.get("textrepair_prediction_log_buffered_rows", 1) == 0 and settled >= spilled:
            return True
        time.sleep(0.5)
    return False


def _metrics(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    pattern = re.compile(r"^(textrepair_[a-z_]+(?:\{[^}]*\})?) (\S+)$")
    return {m[1]: float(m[2]) for line in text.splitlines() if (m := pattern.match(line))}


def _logged(lake: Path) -> Counter:
    from textrepair.monitoring.predlog import read_window

    frame = read_window(str(lake / "prediction_log"))
    return Counter(
        fingerprint(int(length), float(share))
        for length, share in zip(frame["input_length"], frame["share_digits"], strict=True)
    )


def _report(total, concurrency, timeout, outcomes, outage, prober, logged, metrics, recovered):
    answered = Counter(fingerprint(len(text_for(i)), _digit_share(i)) for i in outcomes.answered)
    missing = sum(1 for key in answered if logged[key] == 0)
    twice = sum(1 for count in logged.values() if count > 1)
    health = _percentiles([s for _, s in prober.samples])
    health_down = _percentiles([s for state, s in prober.samples if state == "down"])
    dropped = metrics.get("textrepair_prediction_log_dropped_rows_total", 0)
    checks = {
        "no unexpected 5xx": not outcomes.unexpected,
        "every answer logged once": missing == 0 and twice == 0,
        "no row dropped": dropped == 0,
        "recovered": recovered,
    }
    return {
        "requests": total,
        "concurrency": concurrency,
        "request_timeout_seconds": timeout,
        "outcomes": dict(sorted(outcomes.statuses.items())),
        "unexpected_5xx": outcomes.unexpected[:10],
        "answered_200": len(outcomes.answered),
        "log_rows": sum(logged.values()),
        "answered_missing_from_log": missing,
        "texts_logged_twice": twice,
        "lake_down_seconds": round(outage["restored"] - outage["started"], 2),
        "healthz": {**health, "failures": prober.failures},
        "healthz_while_lake_down": health_down,
        "metrics": {k.removeprefix("textrepair_"): v for k, v in metrics.items() if _kept(k)},
        "checks": checks,
        "passed": all(checks.values()),
    }


def _digit_share(index: int) -> float:
    text = text_for(index)
    return sum(c.isdigit() for c in text) / len(text)


def _kept(name: str) -> bool:
    return name.startswith(
        ("textrepair_prediction_log", "textrepair_requests_expired", "textrepair_requests_aband")
    )


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"count": 0}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


def _random_model(path: Path) -> str:
    import torch

    from textrepair.model.families import ModelConfig, build_model, save_model

    torch.manual_seed(0)
    config = ModelConfig(family="byt5", size="tiny", dropout=0.0)
    model, tokenizer = build_model(config)
    return str(save_model(model.eval(), tokenizer, config, path))


class Server:
    """`textrepair serve` in a subprocess, its lake and spill file in `tmp`."""

    def __init__(self, tmp: Path, model: str, timeout: float) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.tmp = tmp
        self.env = {
            **os.environ,
            "TEXTREPAIR_STORAGE__ROOT": str(tmp / "lake"),
            "TEXTREPAIR_MONITOR__SPILL_FILE": str(tmp / "spill" / "prediction_log.jsonl"),
            "TEXTREPAIR_MONITOR__FLUSH_ROWS": "20",
            # A small memory cap, so that rows answered while the lake is down go to the spill
            # file (past the cap) and the replay is exercised, not only the in-memory buffer.
            "TEXTREPAIR_MONITOR__MAX_BUFFER_ROWS": "40",
            "TEXTREPAIR_MONITOR__FLUSH_SECONDS": "0.5",
            "TEXTREPAIR_MONITOR__RETRY_MIN_SECONDS": "0.2",
            "TEXTREPAIR_MONITOR__RETRY_MAX_SECONDS": "2",
            "TEXTREPAIR_SERVE__REQUEST_TIMEOUT_SECONDS": str(timeout),
            "TEXTREPAIR_SERVE__DRIFT_REPORT": str(tmp / "no-report.json"),
            "TEXTREPAIR_MLFLOW__TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
        }
        self.command = [
            sys.executable, "-m", "textrepair", "serve", "--port", str(self.port), "--model", model,
        ]  # fmt: skip

    def __enter__(self) -> str:
        self.log = (self.tmp / "serve.log").open("w")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log
        )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 900  # a loaded machine starts torch slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.tmp / "serve.log").read_text()[-2000:])
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.process.terminate()
        log = (self.tmp / "serve.log").read_text()[-2000:]
        raise TimeoutError(f"the server did not become ready:\n{log}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()  # as Kubernetes stops a pod: the log writer drains first
        try:
            self.process.wait(timeout=300)
        finally:
            self.process.kill()  # a no-op once it has exited
            self.log.close()


def _print(report: dict) -> None:
    print(json.dumps({k: v for k, v in report.items() if k != "metrics"}, indent=2))
    print("metrics:", json.dumps(report["metrics"]))
    print("PASSED" if report["passed"] else "FAILED")


if __name__ == "__main__":
    main()
