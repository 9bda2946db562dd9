"""Locust user for benchmarks/serve_load.py: POST one text to /v1/repair, no think time."""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

TEXT = os.environ.get("BENCH_TEXT", "In the beginning God created the heaven and the earth.")


class Repair(FastHttpUser):
    wait_time = constant(0)

    @task
    def repair(self) -> None:
        with self.client.post("/v1/repair", json={"texts": [TEXT]}, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
