"""Locust user for benchmarks/serve_load.py: POST one text to /v1/repair, no think time.

Each request takes another text from $BENCH_TEXTS (a JSON list): Repairer de-duplicates equal
windows within a batch, so identical texts would flatter micro-batching.
"""

from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, constant, task

with open(os.environ["BENCH_TEXTS"], encoding="utf-8") as handle:
    TEXTS = json.load(handle)


class Repair(FastHttpUser):
    wait_time = constant(0)

    @task
    def repair(self) -> None:
        body = {"texts": [random.choice(TEXTS)]}
        with self.client.post("/v1/repair", json=body, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
