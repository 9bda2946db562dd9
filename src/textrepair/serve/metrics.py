"""Prometheus metrics, all named textrepair_*, in a registry of the app's own (so two apps in one
process, as in tests, never collide)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from textrepair.model.source import ModelInfo

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_CHAR_BUCKETS = (0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
_EDIT_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "textrepair_requests", "HTTP requests by endpoint and status.",
            ["endpoint", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "textrepair_request_latency_seconds", "Time to answer a request.",
            ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "textrepair_batch_size", "Texts per model call (micro-batch).",
            buckets=_SIZE_BUCKETS, registry=r,
        )  # fmt: skip
        self.texts_per_request = Histogram(
            "textrepair_request_texts", "Texts per /v1/repair request.",
            buckets=_SIZE_BUCKETS, registry=r,
        )  # fmt: skip
        self.input_chars = Histogram(
            "textrepair_input_chars", "Characters per input text.",
            buckets=_CHAR_BUCKETS, registry=r,
        )  # fmt: skip
        self.edits = Histogram(
            "textrepair_edits_per_text", "Edits made per text.", buckets=_EDIT_BUCKETS, registry=r
        )
        self.model_info = Gauge(
            "textrepair_model_info", "The model being served (value 1).",
            ["name", "version", "alias", "source"], registry=r,
        )  # fmt: skip
        self.model_ready = Gauge("textrepair_model_ready", "1 once a model is loaded.", registry=r)
        self.reloads = Counter(
            "textrepair_model_reloads", "Model loads and reloads by outcome.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "textrepair_queue_depth", "Requests waiting for the model.", registry=r
        )
        self.expired = Counter(
            "textrepair_requests_expired",
            "Requests answered 503 because serve.request_timeout_seconds passed.", registry=r,
        )  # fmt: skip
        self.abandoned = Counter(
            "textrepair_requests_abandoned",
            "Requests whose client went away before the answer (their work is dropped).",
            registry=r,
        )  # fmt: skip

    def watch_prediction_log(self, stats: Callable[[], Mapping[str, int]]) -> None:
        """Export the prediction log writer's counters (read at each scrape)."""
        self.registry.register(_PredictionLogCollector(stats))

    def serving(self, info: ModelInfo) -> None:
        self.model_info.clear()
        self.model_info.labels(info.name, info.version, info.alias or "", info.source).set(1)
        self.model_ready.set(1)


_PREDICTION_LOG_HELP = {
    "committed_rows": "Rows committed to the prediction log.",
    "failed_commits": "Failed commits or replays (the lake refused or failed).",
    "spilled_rows": "Rows written to the local spill file.",
    "replayed_rows": "Spilled rows committed later.",
    "dropped_rows": "Rows lost: they could not even be spilled (e.g. a full disk).",
}


class _PredictionLogCollector(Collector):
    """textrepair_prediction_log_*: what the writer committed, spilled, replayed and dropped."""

    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        values = self.stats()
        for name, text in _PREDICTION_LOG_HELP.items():
            yield CounterMetricFamily(f"textrepair_prediction_log_{name}", text, values[name])
        yield GaugeMetricFamily(
            "textrepair_prediction_log_buffered_rows",
            "Rows in memory waiting for a commit.",
            values["buffered_rows"],
        )
