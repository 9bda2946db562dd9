"""The API cannot be tied up: deadlines, bounded queues, abandoned requests, merged reloads,
capped request ids, a hanging lake, and the order of shutdown."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from servers import running, serve_settings, wait_until

from textrepair.serve import app as app_module
from textrepair.serve import slot as slot_module
from textrepair.serve.app import create_app

ADMIN = "admin-key"


class SlowModel:
    """The tiny Repairer behind a fixed delay per call, recording every text it is given."""

    def __init__(self, repairer, delay: float) -> None:
        self.repairer, self.delay = repairer, delay
        self.num_beams = repairer.num_beams
        self.seen: list[str] = []

    def repair(self, texts):
        self.seen.extend(texts)
        time.sleep(self.delay)
        return self.repairer.repair(texts)


def post(url: str, texts: list[str], timeout: float = 60) -> requests.Response:
    return requests.post(f"{url}/v1/repair", json={"texts": texts}, timeout=timeout)


def _metric(url: str, name: str) -> float:
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exported")


def _in_background(pool: ThreadPoolExecutor, url: str, texts: list[str], model: SlowModel):
    """Send `texts` and wait until the model is busy with them."""
    future = pool.submit(post, url, texts)
    wait_until(lambda: texts[0] in model.seen, timeout=20, every=0.01)
    return future


def test_a_request_past_its_deadline_gets_503_and_never_reaches_the_model(tmp_path, tiny_repairer):
    model = SlowModel(tiny_repairer, delay=1.5)
    settings = serve_settings(tmp_path, request_timeout_seconds=0.5, max_wait_ms=0)
    with running(create_app(settings, repairer=model)) as url, ThreadPoolExecutor(2) as pool:
        busy = _in_background(pool, url, ["occupies the model"], model)
        late = post(url, ["waits behind it"])
        assert late.status_code == 503
        assert late.json()["error"]["code"] == "deadline_exceeded"
        assert "request_timeout_seconds" in late.json()["error"]["message"]
        assert busy.result().status_code == 503  # it ran past its own deadline too
        time.sleep(1.6)  # the model is free again: the expired request is not run then either
        assert "waits behind it" not in model.seen
        assert _metric(url, "textrepair_requests_expired_total") == 2


def test_the_queue_is_bounded_by_characters_as_well(tmp_path, tiny_repairer):
    model = SlowModel(tiny_repairer, delay=1.5)
    settings = serve_settings(
        tmp_path, max_texts=2, max_chars=10, max_queue_chars=25, max_wait_ms=0
    )
    with running(create_app(settings, repairer=model)) as url, ThreadPoolExecutor(2) as pool:
        busy = _in_background(pool, url, ["occupies the model"[:10]], model)
        waiting = pool.submit(post, url, ["0123456789", "0123456789"])  # 20 characters queued
        wait_until(lambda: _metric(url, "textrepair_queue_depth") == 1, every=0.01)
        full = post(url, ["0123456789"])  # 30 > 25
        assert full.status_code == 429 and full.json()["error"]["code"] == "overloaded"
        assert "characters" in full.json()["error"]["message"]
        assert post(url, ["01234"]).status_code == 200  # 25 fits
        assert busy.result().status_code == 200 and waiting.result().status_code == 200


def test_work_of_a_client_that_went_away_is_dropped(tmp_path, tiny_repairer):
    model = SlowModel(tiny_repairer, delay=1.5)
    settings = serve_settings(tmp_path, max_wait_ms=0)
    with running(create_app(settings, repairer=model)) as url, ThreadPoolExecutor(2) as pool:
        busy = _in_background(pool, url, ["occupies the model"], model)
        with pytest.raises(requests.Timeout):
            post(url, ["nobody waits for this"], timeout=0.3)  # the client hangs up
        assert busy.result().status_code == 200
        wait_until(lambda: _metric(url, "textrepair_requests_abandoned_total") == 1)
        assert post(url, ["after"]).status_code == 200
    assert "nobody waits for this" not in model.seen


def test_concurrent_reloads_are_merged_into_one_load(tmp_path, tiny_model_dir, monkeypatch):
    loads: list[float] = []
    real_load = slot_module.load

    def slow_load(*args, **kwargs):
        loads.append(time.monotonic())
        time.sleep(1.0)
        return real_load(*args, **kwargs)

    settings = serve_settings(tmp_path, model=str(tiny_model_dir), admin_api_key=ADMIN)
    with running(create_app(settings)) as url:
        wait_until(lambda: requests.get(f"{url}/readyz", timeout=10).json()["ready"])
        monkeypatch.setattr(slot_module, "load", slow_load)

        def reload(_: int) -> int:
            headers = {"X-API-Key": ADMIN}
            return requests.post(f"{url}/admin/reload", headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(5) as pool:
            statuses = list(pool.map(reload, range(5)))
    assert statuses == [200] * 5
    assert len(loads) == 1


def test_a_long_request_id_is_cut(tmp_path, tiny_repairer):
    settings = serve_settings(tmp_path, max_request_id_chars=16)
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        answer = requests.get(f"{url}/healthz", headers={"x-request-id": "r" * 8000}, timeout=10)
    assert answer.headers["x-request-id"] == "r" * 16


def test_a_hanging_lake_stalls_neither_answers_nor_health(tmp_path, tiny_repairer, hanging_lake):
    from textrepair.monitoring.predlog import log_uri, read_window

    settings = serve_settings(tmp_path)
    settings = settings.model_copy(
        update={"monitor": settings.monitor.model_copy(update={"flush_rows": 1})}
    )
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        for _ in range(5):
            assert post(url, ["and the earth"], timeout=30).status_code == 200
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        assert _metric(url, "textrepair_prediction_log_committed_rows_total") == 0
        hanging_lake.set()
    assert len(read_window(log_uri(settings))) == 5


def test_shutdown_closes_the_log_writer_before_the_batcher(tmp_path, tiny_repairer, monkeypatch):
    order: list[str] = []
    close, stop = app_module.PredictionLogWriter.close, app_module.MicroBatcher.stop

    def recording_close(self, *args, **kwargs):
        order.append("log writer")
        return close(self, *args, **kwargs)

    async def recording_stop(self):
        order.append("batcher")
        await stop(self)

    monkeypatch.setattr(app_module.PredictionLogWriter, "close", recording_close)
    monkeypatch.setattr(app_module.MicroBatcher, "stop", recording_stop)
    with running(create_app(serve_settings(tmp_path), repairer=tiny_repairer)) as url:
        assert post(url, ["a"]).status_code == 200
    assert order == ["log writer", "batcher"]
