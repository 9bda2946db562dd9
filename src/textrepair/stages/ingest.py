"""Bronze: raw documents with source, path, ingest time and content hash.

Ingest is incremental, as Auto Loader does it: the bronze table remembers each file's content
hash, and a rerun reads only files that are new or whose bytes changed. A changed file's old rows
are deleted before its new rows are appended, so an interrupted run is repaired by the next one.
Rows of a built-in file that is gone (an upgraded package, a new Python) are deleted too. Each
row records `source_version`, the package and version its text came from.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pyspark.sql import SparkSession

from textrepair.config import CorpusConfig, Settings
from textrepair.data import tables
from textrepair.data.corpus import BUILTINS, SourceFile, discover, read_documents, source_version
from textrepair.data.spark import spark_schema
from textrepair.reports import REPORTS_DIR, write_metrics

log = logging.getLogger(__name__)

BRONZE_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("source_version", pa.string()),
        ("path", pa.string()),
        ("record", pa.string()),
        ("text", pa.string()),
        ("encoding", pa.string()),
        ("read_error", pa.string()),
        ("content_hash", pa.string()),
        ("file_sha256", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)
_FILE_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("source", "path", "sha256")]
    + [("size", pa.int64()), ("mtime_ns", pa.int64())]
)


@dataclass
class IngestResult:
    files_discovered: int = 0
    files_ingested: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    files_skipped: dict[str, str] = field(default_factory=dict)
    documents_added: int = 0
    documents_removed: int = 0
    read_errors: dict[str, int] = field(default_factory=dict)
    bronze_documents: int = 0
    bronze_version: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run(settings: Settings, spark: SparkSession, reports_dir: Path = REPORTS_DIR) -> IngestResult:
    """The DVC stage: `run_ingest`, then reports/ingest.json."""
    result = run_ingest(settings, spark)
    write_metrics("ingest", result.to_dict(), reports_dir)
    return result


def run_ingest(
    settings: Settings, spark: SparkSession, base_dir: Path | None = None
) -> IngestResult:
    """Add new and changed corpus files to the bronze table."""
    uri = settings.lake_path("bronze")
    options = settings.storage.storage_options
    found = discover(settings.corpus, base_dir or Path.cwd())
    known, rows_before = _known_files(uri, options)
    rebuild = known is None
    if known is None:
        log.warning("bronze has no source_version column (written by an older version): rebuilding")
        known = {}
    todo = [f for f in found.files if known.get(f.path, ("", ""))[0] != f.sha256]
    changed = [f.path for f in todo if f.path in known]
    present = {f.path for f in found.files}
    gone = [
        path for path, (_, source) in known.items() if source in BUILTINS and path not in present
    ]
    result = IngestResult(
        files_discovered=len(found.files),
        files_ingested=len(todo),
        files_changed=len(changed),
        files_unchanged=len(found.files) - len(todo),
        files_removed=len(gone),
        files_skipped=dict(found.skipped),
    )
    for path, reason in found.skipped:
        log.warning("skipped %s: %s", path, reason)
    if changed or gone:
        paths = ", ".join(tables.sql_string_literal(p) for p in changed + gone)
        result.documents_removed = tables.delete_rows(uri, f"path IN ({paths})", options)
    if rebuild:
        result.documents_removed = rows_before
    if todo:
        log.info("ingesting %d new or changed file(s) of %d", len(todo), len(found.files))
        documents = _read_in_spark(spark, todo, settings.corpus)
        mode = "overwrite" if rebuild else "append"
        version = tables.write_table(documents, uri, mode=mode, storage_options=options)
        log.info("bronze is now at version %d", version)
    else:
        log.info("nothing new: all %d file(s) already in bronze", len(found.files))
    _count_bronze(uri, options, result)
    result.documents_added = result.bronze_documents - rows_before + result.documents_removed
    return result


def _known_files(
    uri: str, options: dict[str, str]
) -> tuple[dict[str, tuple[str, str]] | None, int]:
    """(content hash, source) per ingested file path, and the number of bronze rows.

    None instead of the mapping when bronze predates the current schema and must be rebuilt.
    """
    if not tables.table_exists(uri, options):
        return {}, 0
    try:
        rows = tables.read_arrow(
            uri,
            columns=["path", "file_sha256", "source", "source_version"],
            storage_options=options,
        )
    except ValueError:  # a column is missing
        return None, tables.read_arrow(uri, columns=["path"], storage_options=options).num_rows
    known = zip(
        rows["path"].to_pylist(),
        rows["file_sha256"].to_pylist(),
        rows["source"].to_pylist(),
        strict=True,
    )
    return {path: (sha, source) for path, sha, source in known}, rows.num_rows


def _read_in_spark(spark: SparkSession, files: list[SourceFile], corpus: CorpusConfig):
    file_rows = pa.Table.from_pylist([asdict(f) for f in files], schema=_FILE_SCHEMA)
    # One partition per file, so large corpora spread over the workers.
    frame = spark.createDataFrame(file_rows.to_pandas()).repartition(len(files))
    ingested_at = datetime.now(UTC)
    corpus_dict = corpus.model_dump()

    def read_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        config = CorpusConfig(**corpus_dict)
        for batch in batches:
            for row in batch.to_pylist():
                yield _documents_batch(SourceFile(**row), config, ingested_at)

    return frame.mapInArrow(read_batches, spark_schema(BRONZE_SCHEMA))


def _documents_batch(
    file: SourceFile, config: CorpusConfig, ingested_at: datetime
) -> pa.RecordBatch:
    rows = []
    version = source_version(file)
    for doc in read_documents(file, config):
        rows.append(
            {
                "doc_id": _hash(f"{doc.path}\x1f{doc.record}")[:20],
                "source": doc.source,
                "source_version": version,
                "path": doc.path,
                "record": doc.record,
                "text": doc.text,
                "encoding": doc.encoding,
                "read_error": doc.read_error,
                "content_hash": None if doc.text is None else _hash(doc.text),
                "file_sha256": file.sha256,
                "ingested_at": ingested_at,
            }
        )
    return pa.RecordBatch.from_pylist(rows, schema=BRONZE_SCHEMA)


def _count_bronze(uri: str, options: dict[str, str], result: IngestResult) -> None:
    if not tables.table_exists(uri, options):
        return
    bronze = tables.read_arrow(uri, columns=["read_error"], storage_options=options)
    result.bronze_documents = bronze.num_rows
    errors = Counter(e for e in bronze["read_error"].to_pylist() if e is not None)
    result.read_errors = dict(sorted(errors.items()))
    result.bronze_version = tables.table_version(uri, options)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
