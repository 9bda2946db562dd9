"""The service over real HTTP (uvicorn in a thread on 127.0.0.1) with a tiny random byte-T5."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from servers import running, serve_settings, wait_until

from textrepair.model.families import MANIFEST
from textrepair.model.source import ModelInfo
from textrepair.serve import slot as slot_module
from textrepair.serve.app import create_app

TEXTS = ["teh lord saidd unto him", "", "hello  world\nsecond line", "and the earth"]
KEY = "s3cret-key"
ADMIN = "admin-key"


@pytest.fixture
def server(tmp_path, tiny_repairer):
    settings = serve_settings(tmp_path, max_texts=8, max_chars=64, max_body_bytes=4096, max_beams=2)
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        yield url


def post(url: str, body, **kwargs) -> requests.Response:
    return requests.post(f"{url}/v1/repair", json=body, timeout=60, **kwargs)


def test_repair_answers_in_input_order_exactly_as_the_repairer_does(server, tiny_repairer):
    response = post(server, {"texts": TEXTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {
        "name": "textrepair",
        "version": "in-memory",
        "alias": None,
        "source": "in-memory",
    }
    expected = tiny_repairer.repair(TEXTS)
    assert [r["text"] for r in body["results"]] == [r.text for r in expected]
    assert [r["changed"] for r in body["results"]] == [r.changed for r in expected]
    assert [len(r["edits"]) for r in body["results"]] == [len(r.edits) for r in expected]
    assert response.headers["x-request-id"]


def test_beam_option_is_accepted_within_its_limit(server, tiny_repairer):
    assert post(server, {"texts": ["a b"], "options": {"num_beams": 2}}).status_code == 200
    assert tiny_repairer.num_beams == 1  # the option applied to that call only
    too_many = post(server, {"texts": ["a b"], "options": {"num_beams": 3}})
    assert too_many.status_code == 422


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"texts": ["x"] * 9}, 422, "too_many_texts"),
        ({"texts": []}, 422, "no_texts"),
        ({"texts": ["x" * 65]}, 422, "text_too_long"),
        ({"texts": "not a list"}, 422, "invalid_request"),
        ({"texts": [1, 2]}, 422, "invalid_request"),
        ({"texts": ["x"], "extra": 1}, 422, "invalid_request"),
        ({"texts": ["x"], "options": {"num_beams": 0}}, 422, "invalid_request"),
        ([1, 2, 3], 422, "invalid_request"),
    ],
)
def test_bad_requests_get_a_clear_json_4xx(server, body, status, code):
    response = post(server, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_malformed_bodies_get_a_clear_json_4xx(server):
    json_headers = {"content-type": "application/json"}
    cases = [
        (b'{"texts": ["a"', 400, "invalid_json"),
        (b'{"texts": ["\xff\xfe"]}', 400, "invalid_utf8"),
        ('{"texts": ["x"]}'.encode("utf-16"), 400, "invalid_utf8"),
        (b'{"texts": ["\\ud800"]}', 422, "invalid_text"),  # a lone surrogate: no UTF-8 answer
        (b'{"texts": ["' + b"x" * 5000 + b'"]}', 413, "body_too_large"),
    ]
    for data, status, code in cases:
        response = requests.post(f"{server}/v1/repair", data=data, headers=json_headers, timeout=30)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), data[:40]


def test_a_chunked_body_over_the_limit_is_stopped_while_it_streams(server):
    chunks = (b"x" * 1024 for _ in range(10))  # no Content-Length: chunked transfer
    response = requests.post(
        f"{server}/v1/repair", data=chunks, headers={"content-type": "application/json"}, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_unknown_paths_and_methods_are_json_errors(server):
    assert requests.get(f"{server}/nope", timeout=10).json()["error"]["code"] == "not_found"
    wrong = requests.get(f"{server}/v1/repair", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_health_readiness_docs_and_metrics(server):
    assert requests.get(f"{server}/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(f"{server}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert requests.get(f"{server}/docs", timeout=10).status_code == 200
    schema = requests.get(f"{server}/openapi.json", timeout=10).json()
    request_schema = schema["components"]["schemas"]["RepairRequest"]["properties"]["texts"]
    assert request_schema["maxItems"] == 8 and request_schema["items"]["maxLength"] == 64
    post(server, {"texts": ["and the earth", "ab"]})
    post(server, {"texts": []})
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    for line in (
        'textrepair_requests_total{endpoint="/v1/repair",method="POST",status="200"} 1.0',
        'textrepair_requests_total{endpoint="/v1/repair",method="POST",status="422"} 1.0',
        "textrepair_request_latency_seconds_count",
        "textrepair_batch_size_count 1.0",
        "textrepair_request_texts_sum 2.0",
        "textrepair_input_chars_sum 15.0",
        "textrepair_edits_per_text_count 2.0",
        'textrepair_model_info{alias="",name="textrepair",source="in-memory",'
        'version="in-memory"} 1',
        "textrepair_model_ready 1.0",
    ):
        assert line in metrics, line


def test_api_key_is_required_when_configured(tmp_path, tiny_repairer):
    settings = serve_settings(tmp_path, api_key=KEY)
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        assert post(url, {"texts": ["a"]}).status_code == 401
        assert post(url, {"texts": ["a"]}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert post(url, {"texts": ["a"]}, headers={"X-API-Key": KEY}).status_code == 200
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200  # probes need none
        # The API key opens no admin door: without an admin key, admin is disabled.
        reload = requests.post(f"{url}/admin/reload", headers={"X-API-Key": KEY}, timeout=10)
        assert reload.status_code == 403


def test_admin_is_disabled_without_a_key(server):
    response = requests.post(f"{server}/admin/reload", timeout=10)
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_disabled"


def test_admin_needs_its_own_key(tmp_path, tiny_repairer, tiny_model_dir):
    settings = serve_settings(tmp_path, model=str(tiny_model_dir), api_key=KEY, admin_api_key=ADMIN)
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        for key in (None, KEY, "wrong"):
            headers = {"X-API-Key": key} if key else {}
            answer = requests.post(f"{url}/admin/reload", headers=headers, timeout=10)
            assert answer.status_code == 401, key
        answer = requests.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert post(url, {"texts": ["a"]}, headers={"X-API-Key": ADMIN}).status_code == 401


def test_access_log_is_json_and_leaves_text_out_unless_asked(tmp_path, tiny_repairer, caplog):
    caplog.set_level(logging.INFO, logger="textrepair.access")
    for log_bodies in (False, True):
        caplog.clear()
        settings = serve_settings(tmp_path, log_bodies=log_bodies)
        with running(create_app(settings, repairer=tiny_repairer)) as url:
            post(url, {"texts": ["secret words"]}, headers={"x-request-id": "req-1"})
        records = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
        line = next(r for r in records if r["path"] == "/v1/repair")
        assert line["request_id"] == "req-1" and line["status"] == 200
        assert line["texts_count"] == 1 and line["input_chars"] == 12
        assert ("texts" in line) is log_bodies
        assert ("secret words" in json.dumps(records)) is log_bodies


class Recorder:
    """The real tiny Repairer, recording how many texts each model call received."""

    def __init__(self, repairer) -> None:
        self.repairer, self.calls = repairer, []
        self.num_beams = repairer.num_beams

    def repair(self, texts):
        self.calls.append(len(texts))
        return self.repairer.repair(texts)


@pytest.mark.parametrize("micro_batching", [True, False])
def test_concurrent_requests_share_model_calls_only_with_micro_batching(
    tmp_path, tiny_repairer, micro_batching
):
    recorder = Recorder(tiny_repairer)
    settings = serve_settings(
        tmp_path, micro_batching=micro_batching, max_batch_size=8, max_wait_ms=50
    )
    texts = [f"the lord {i} said unto him" for i in range(16)]
    with running(create_app(settings, repairer=recorder)) as url, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: post(url, {"texts": [t]}).json(), texts))
    assert [a["results"][0]["text"] for a in answers] == [
        r.text for r in tiny_repairer.repair(texts)
    ]
    assert sum(recorder.calls) == 16 and max(recorder.calls) <= 8
    if micro_batching:
        assert len(recorder.calls) < 16 and max(recorder.calls) > 1
    else:
        assert recorder.calls == [1] * 16


def test_the_model_loads_in_the_background_and_readiness_follows(tmp_path, tiny_model_dir):
    import shutil

    target = tmp_path / "later"
    settings = serve_settings(tmp_path, model=str(target), load_retry_s=0.2)
    with running(create_app(settings)) as url:
        ready = wait_until(lambda: requests.get(f"{url}/readyz", timeout=10).json()["last_error"])
        assert "does not exist" in ready
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 503
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        not_ready = post(url, {"texts": ["a"]})
        assert not_ready.status_code == 503 and not_ready.json()["error"]["code"] == "not_ready"
        shutil.copytree(tiny_model_dir, target)
        body = wait_until(lambda: requests.get(f"{url}/readyz", timeout=10).json()["ready"])
        assert body
        assert post(url, {"texts": ["a"]}).json()["model"]["name"] == "later"


def test_the_model_is_loaded_on_a_thread_that_ends_afterwards(
    tmp_path, tiny_model_dir, monkeypatch
):
    # A thread that lives on after running torch keeps an OpenMP pool that slows the model thread.
    loaders: list[threading.Thread] = []
    load = slot_module.load

    def recording_load(*args, **kwargs):
        loaders.append(threading.current_thread())
        return load(*args, **kwargs)

    monkeypatch.setattr(slot_module, "load", recording_load)
    settings = serve_settings(tmp_path, model=str(tiny_model_dir), admin_api_key=ADMIN)
    with running(create_app(settings)) as url:
        assert wait_until(lambda: requests.get(f"{url}/readyz", timeout=10).json()["ready"])
        answer = requests.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert len(loaders) == 2 and loaders[0] is not loaders[1]
        assert wait_until(lambda: not any(thread.is_alive() for thread in loaders))


def test_a_failed_reload_keeps_the_old_model_and_says_why(tmp_path, tiny_repairer):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    settings = serve_settings(tmp_path, model=str(broken), api_key=KEY, admin_api_key=ADMIN)
    info = ModelInfo("textrepair", "7", "champion", "models:/textrepair@champion")
    with running(create_app(settings, repairer=tiny_repairer, model_info=info)) as url:
        answer = requests.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=30)
        assert answer.status_code == 409
        assert answer.json()["reloaded"] is False and "unreadable" in answer.json()["error"]
        assert answer.json()["model"]["version"] == "7"
        assert (
            post(url, {"texts": ["a"]}, headers={"X-API-Key": KEY}).json()["model"]["version"]
            == "7"
        )
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert 'textrepair_model_reloads_total{outcome="failure"} 1.0' in metrics


def test_reload_swaps_while_requests_keep_being_answered(tmp_path, tiny_model_dir, tiny_repairer):
    settings = serve_settings(tmp_path, model=str(tiny_model_dir), api_key=KEY, admin_api_key=ADMIN)
    statuses: list[int] = []
    stop = threading.Event()
    with running(create_app(settings, repairer=tiny_repairer)) as url:

        def hammer() -> None:
            while not stop.is_set():
                statuses.append(
                    post(url, {"texts": ["a b c"]}, headers={"X-API-Key": KEY}).status_code
                )

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            answer = requests.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=60)
        finally:
            stop.set()
            worker.join()
        assert answer.status_code == 200, answer.text
        # A plain directory's version id is its weights' hash, as batch and stream log it.
        assert answer.json()["model"]["version"].startswith("dir:model@")
        after = post(url, {"texts": ["a"]}, headers={"X-API-Key": KEY}).json()
    assert after["model"]["source"] == str(tiny_model_dir)
    assert statuses and set(statuses) == {200}


def test_the_api_key_can_come_from_a_mounted_secret_file(tmp_path, tiny_repairer):
    (tmp_path / "api-key").write_text(KEY + "\n")
    settings = serve_settings(tmp_path, api_key_file=str(tmp_path / "api-key"))
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        assert post(url, {"texts": ["a"]}).status_code == 401
        assert post(url, {"texts": ["a"]}, headers={"X-API-Key": KEY}).status_code == 200


def test_answers_go_to_the_prediction_log_and_drift_gauges_are_exposed(tmp_path, tiny_repairer):
    from textrepair.monitoring.predlog import log_uri, read_window

    settings = serve_settings(tmp_path, drift_report=str(tmp_path / "monitor.json"))
    with running(create_app(settings, repairer=tiny_repairer)) as url:
        assert post(url, {"texts": TEXTS}).status_code == 200
        assert post(url, {"texts": TEXTS[:1]}).status_code == 200
        metrics = requests.get(f"{url}/metrics", timeout=30).text
        assert "textrepair_drift_report_available 0.0" in metrics  # no monitor report yet
    logged = read_window(log_uri(settings))  # the writer commits what is left at shutdown
    assert len(logged) == len(TEXTS) + 1
    assert set(logged["path"]) == {"api"} and set(logged["model_version"]) == {"in-memory"}
    assert sorted(logged["input_length"]) == sorted(map(len, [*TEXTS, TEXTS[0]]))
