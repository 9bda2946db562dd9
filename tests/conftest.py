"""Shared fixtures. Every test gets temporary paths; nothing touches ./data or ./mlflow.db."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# Spark binds to loopback in tests whatever the machine's network looks like.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the `spark` fixture starts Spark: it carries the `spark` marker wherever
    it sits, so `make test-fast` (-m "not spark and not slow") leaves it out."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread, restored at the end of the session: tiny models gain nothing from
    threads (each Spark worker uses one too), and OpenMP threads spinning against the other
    xdist worker on a shared 2-core machine make decoding and training crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local Spark session for the whole test run (start-up costs seconds)."""
    from textrepair.config import SparkConfig
    from textrepair.data.spark import get_spark

    session = get_spark(
        SparkConfig(
            master="local[2]",
            conf={"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"},
        )
    )
    yield session
    session.stop()


@pytest.fixture
def hanging_lake(monkeypatch) -> threading.Event:
    """Delta appends of the prediction log wait until the returned event is set: a lake that
    hangs. Set it to let the commits through."""
    from textrepair.data import tables

    release = threading.Event()
    append = tables.append_arrow_once

    def hanging(*args, **kwargs):
        release.wait()
        return append(*args, **kwargs)

    monkeypatch.setattr(tables, "append_arrow_once", hanging)
    return release
