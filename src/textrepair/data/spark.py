"""The Spark session: master and settings come from configuration, never from code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType

from textrepair.config import SparkConfig

# Quiet, reproducible defaults that configuration may override.
_DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def get_spark(config: SparkConfig) -> SparkSession:
    """Return the active session for `config`, creating it on first use."""
    # Workers must run the same interpreter as the driver (the project venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if config.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(config.master).appName(config.app_name)
    conf = {**_DEFAULT_CONF, **(_DELTA_CONF if config.delta_connector else {}), **config.conf}
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def spark_session(config: SparkConfig) -> Iterator[SparkSession]:
    """The session of one command, stopped when the command ends, even on error.

    An unstopped session leaves the JVM and Py4J threads to interpreter shutdown. A session that
    was already running when the command began (a caller's: a test fixture, or `textrepair data`
    running three stages in one process) is shared and left running for its owner to stop.
    """
    already_running = SparkSession.getActiveSession() is not None
    spark = get_spark(config)
    try:
        yield spark
    finally:
        if not already_running:
            spark.stop()


def uses_delta_connector(spark: SparkSession) -> bool:
    """True when this session was configured with Spark's own Delta connector."""
    return "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions", "")


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (mapInArrow declares its output this way)."""
    return from_arrow_schema(schema)
