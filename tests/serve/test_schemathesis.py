"""schemathesis against the service's own OpenAPI document, over HTTP on 127.0.0.1: valid and
invalid requests for every operation, and not one may get a 5xx."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from servers import running, serve_settings

from textrepair.serve.app import create_app

pytestmark = pytest.mark.slow
KEY = "fuzz-key"
REPAIR = "POST /v1/repair"
# Only /v1/repair takes a body, so only it has invalid inputs to generate (negative mode); it is
# sent with the key so the body is what gets tested. The others get no, good or bad keys.
BUDGET = {(REPAIR, GenerationMode.POSITIVE): 250, (REPAIR, GenerationMode.NEGATIVE): 250}
OTHERS = 40  # per other operation; hypothesis stops early once every distinct case was tried
REPAIR_KEYS = [{"X-API-Key": KEY}]
OTHER_KEYS = [{}, {"X-API-Key": KEY}, {"X-API-Key": "bad"}]


def test_no_generated_request_gets_a_server_error(tmp_path, tiny_model_dir, tiny_repairer):
    # Small limits keep each model call short; a real source lets /admin/reload load for real.
    config = serve_settings(
        tmp_path, model=str(tiny_model_dir), api_key=KEY, admin_api_key=KEY, max_texts=2,
        max_chars=16, max_beams=2,
        max_body_bytes=2048, max_wait_ms=0,
    )  # fmt: skip
    statuses: Counter[int] = Counter()
    with running(create_app(config, repairer=tiny_repairer)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = {
            f"{r.ok().method.upper()} {r.ok().path}": r.ok() for r in schema.get_all_operations()
        }
        assert set(operations) == {
            REPAIR,
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
            "POST /admin/reload",
        }
        session = requests.Session()
        for name, operation in operations.items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                budget = BUDGET.get((name, mode), OTHERS if mode == GenerationMode.POSITIVE else 0)
                if budget:
                    keys = REPAIR_KEYS if name == REPAIR else OTHER_KEYS
                    cases = operation.as_strategy(generation_mode=mode)
                    _fuzz(cases, keys, budget, url, session, statuses)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(f"schemathesis: {statuses.total()} requests, statuses {dict(sorted(statuses.items()))}")
    assert statuses.total() >= 500
    assert server_errors == 0, dict(statuses)
    assert statuses[200] > 100 and statuses[422] > 50


def _fuzz(cases, keys, budget: int, url: str, session: requests.Session, statuses: Counter) -> None:
    @settings(
        max_examples=budget,
        deadline=None,
        database=None,
        derandomize=True,  # fixed examples: the same requests on every run
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, headers=st.sampled_from(keys))
    def check(case, headers) -> None:
        response = case.call(base_url=url, session=session, headers=headers, timeout=60)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (case.method, case.path, case.body, response.text)

    check()
