"""Evaluation: character/word error rates against gold, with bootstrap confidence intervals.

Every rate is corpus-level (sum of edit distances / sum of reference lengths), so long rows weigh
more than short ones, as they do for a reader. Confidence intervals come from a percentile
bootstrap over rows: all metrics of one system are computed on the same resamples, so
`cer_reduction` pairs each row's input and output errors.

A system is any ``predict_fn(list[str]) -> list[str]``. It is run once per distinct input, in
batches, on the main-profile test rows and on each single-type test set (``per_type``). The
main-profile rows are also reported by length (``by_length``) and by corpus source
(``by_source``: kjv, pydoc, docstrings, landing, each one present).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from textrepair.config import MutationType
from textrepair.reports import REPORTS_DIR, write_metrics

PredictFn = Callable[[list[str]], list[str]]
Row = Mapping[str, Any]

METRICS = ("cer_in", "cer_out", "cer_reduction", "wer_out", "exact_match", "broken_rate")
LABELS = {
    "cer_in": "CER in",
    "cer_out": "CER out",
    "cer_reduction": "CER reduction",
    "wer_out": "WER out",
    "exact_match": "exact match",
    "broken_rate": "broken rate",
}
LENGTH_EDGES = (64, 128, 192)  # bucket boundaries in UTF-8 bytes of the clean text
UNKNOWN_SOURCE = "unknown"  # rows of a gold table written before gold carried its source
# Columns of the by-source table, after source, system and rows.
SOURCE_METRICS = ("cer_in", "cer_out", "cer_reduction", "exact_match", "broken_rate")
_BOOTSTRAP_CELLS = 1_000_000  # resample weights held in memory at once (rows x resamples)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate on and how."""

    main_profile: str = "default"
    split: str = "test"
    types: tuple[str, ...] = tuple(t.value for t in MutationType)
    length_edges: tuple[int, ...] = LENGTH_EDGES
    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    batch_size: int = 32
    progress: bool = True


# --- single-pair metrics -------------------------------------------------------------------------


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate. With an empty reference, any output is entirely wrong (1.0)."""
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return Levenshtein.distance(reference, hypothesis) / len(reference)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate over whitespace-separated words (empty reference as in `cer`)."""
    ref_words, hyp_words = reference.split(), hypothesis.split()
    if not ref_words:
        return 0.0 if not hyp_words else 1.0
    return Levenshtein.distance(ref_words, hyp_words) / len(ref_words)


# --- one system on a set of rows -----------------------------------------------------------------


def is_clean_row(row: Row) -> bool:
    """A row left undamaged on purpose (no mutation records)."""
    mutations = row.get("mutations")
    return mutations is None or len(mutations) == 0


def evaluate_predictions(
    rows: Sequence[Row],
    predictions: Sequence[str],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of one system's `predictions` (aligned with `rows`), each ``{value, ci}``.

    `broken_rate` uses only the clean rows: characters the system changed / characters given.
    A metric that is undefined on these rows (no clean rows, no damage at all) is None.
    """
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} rows but {len(predictions)} predictions")
    columns, clean_columns = _row_columns(rows, predictions)
    rng = np.random.default_rng(seed)
    sums = _bootstrap_sums(columns, n_resamples, rng)
    clean_sums = _bootstrap_sums(clean_columns, n_resamples, rng)
    full = {name: np.array([col.sum()]) for name, col in columns.items()}
    full_clean = {name: np.array([col.sum()]) for name, col in clean_columns.items()}
    estimates = {**_ratios(full), **_clean_ratios(full_clean)}
    resampled = {**_ratios(sums), **_clean_ratios(clean_sums)}
    metrics: dict[str, Any] = {"n_rows": len(rows), "n_clean_rows": len(clean_columns["given"])}
    for name in METRICS:
        metrics[name] = _with_ci(estimates[name][0], resampled[name], confidence)
    return metrics


def evaluate_by_length(
    rows: Sequence[Row],
    predictions: Sequence[str],
    edges: Sequence[int] = LENGTH_EDGES,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """`evaluate_predictions` per length bucket of the clean text (every bucket listed)."""
    names = bucket_names(edges)
    members: dict[str, list[int]] = {name: [] for name in names}
    for index, row in enumerate(rows):
        members[bucket_of(len(row["clean"].encode("utf-8")), edges)].append(index)
    return {
        name: evaluate_predictions(
            [rows[i] for i in indices], [predictions[i] for i in indices], **options
        )
        for name, indices in members.items()
    }


def source_of(row: Row) -> str:
    return row.get("source") or UNKNOWN_SOURCE


def evaluate_by_source(
    rows: Sequence[Row], predictions: Sequence[str], **options: Any
) -> dict[str, dict[str, Any]]:
    """`evaluate_predictions` per corpus source present in `rows` (sorted by name)."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        members[source_of(row)].append(index)
    return {
        name: evaluate_predictions(
            [rows[i] for i in members[name]], [predictions[i] for i in members[name]], **options
        )
        for name in sorted(members)
    }


def sample_test_rows(rows: Sequence[Row], per_set: int, split: str = "test") -> list[Row]:
    """At most `per_set` rows of `split` per profile (0: all), shared evenly by source.

    Sources take turns, each in id order, so every source present gets rows and a small one
    (a few landing documents) is not drowned by a large one; a source with too few rows leaves
    its share to the others. Every profile draws the same windows, since a test window has a
    row in each profile and ids sort the same way.
    """
    by_profile: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in sorted((r for r in rows if r["split"] == split), key=lambda r: r["id"]):
        by_profile[row["profile"]][source_of(row)].append(row)
    out: list[Row] = []
    for sources in by_profile.values():
        queues = [sources[name] for name in sorted(sources)]
        turns = itertools.chain.from_iterable(itertools.zip_longest(*queues))
        taken = [row for row in turns if row is not None]
        out += taken[:per_set] if per_set else taken
    return sorted(out, key=lambda r: r["id"])


def bucket_names(edges: Sequence[int]) -> list[str]:
    """``[0, 64, 128]`` style edges as labels: ``0-63``, ``64-127``, ..., ``192+``."""
    bounds = [0, *edges]
    names = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(bounds)]
    return [*names, f"{bounds[-1]}+"]


def bucket_of(size: int, edges: Sequence[int]) -> str:
    names = bucket_names(edges)
    for name, edge in zip(names, edges, strict=False):
        if size < edge:
            return name
    return names[-1]


# --- systems and reports -------------------------------------------------------------------------


def predict_unique(
    predict_fn: PredictFn,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    description: str = "predict",
    progress: bool = True,
) -> dict[str, str]:
    """Run `predict_fn` once per distinct text, in batches; returns ``{input: prediction}``."""
    from rich.console import Console
    from rich.progress import Progress

    # Similar lengths in one batch waste less padding in a model; order does not affect results.
    unique = sorted(dict.fromkeys(texts), key=len)
    outputs: dict[str, str] = {}
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task(description, total=len(unique))
        for start in range(0, len(unique), batch_size):
            batch = unique[start : start + batch_size]
            predicted = list(predict_fn(batch))
            if len(predicted) != len(batch):
                raise ValueError(
                    f"{description}: {len(batch)} inputs gave {len(predicted)} outputs"
                )
            outputs.update(zip(batch, predicted, strict=True))
            bar.advance(task, len(batch))
    return outputs


def select_rows(rows: Sequence[Row], split: str, profile: str) -> list[Row]:
    return [row for row in rows if row["split"] == split and row["profile"] == profile]


def evaluate_system(
    name: str,
    predict_fn: PredictFn,
    gold_rows: Sequence[Row],
    config: EvalConfig | None = None,
) -> dict[str, Any]:
    """Overall metrics on the main-profile test rows, plus ``per_type`` and ``by_length``."""
    config = config or EvalConfig()
    main = select_rows(gold_rows, config.split, config.main_profile)
    if not main:
        raise ValueError(
            f"no gold rows with split={config.split!r}, profile={config.main_profile!r}"
        )
    per_type_rows = {t: select_rows(gold_rows, config.split, t) for t in config.types}
    per_type_rows = {t: rows for t, rows in per_type_rows.items() if rows}
    inputs = [row["corrupted"] for rows in [main, *per_type_rows.values()] for row in rows]
    started = time.perf_counter()
    repaired = predict_unique(
        predict_fn,
        inputs,
        batch_size=config.batch_size,
        description=name,
        progress=config.progress,
    )
    seconds = time.perf_counter() - started
    options = {
        "n_resamples": config.n_resamples,
        "confidence": config.confidence,
        "seed": config.seed,
    }

    def predictions(rows: list[Row]) -> list[str]:
        return [repaired[row["corrupted"]] for row in rows]

    return {
        **evaluate_predictions(main, predictions(main), **options),
        "per_type": {
            t: evaluate_predictions(rows, predictions(rows), **options)
            for t, rows in per_type_rows.items()
        },
        "by_length": evaluate_by_length(main, predictions(main), config.length_edges, **options),
        "by_source": evaluate_by_source(main, predictions(main), **options),
        "n_inputs": len(repaired),
        "predict_seconds": round(seconds, 3),
        "seconds_per_input": round(seconds / max(len(repaired), 1), 6),
    }


def default_baselines() -> dict[str, PredictFn]:
    """identity and SymSpell (its dictionary loads on first use, not here)."""
    from textrepair.lifecycle.baselines import SymSpellBaseline, identity

    return {"identity": identity, "symspell": SymSpellBaseline()}


def build_report(
    model_predict: PredictFn,
    gold_rows: Sequence[Row],
    config: EvalConfig | None = None,
    baselines: Mapping[str, PredictFn] | None = None,
) -> dict[str, Any]:
    """``{"split": ..., "model": ..., "baselines": {"identity": ..., "symspell": ...}}`` on the
    same rows."""
    config = config or EvalConfig()
    baselines = default_baselines() if baselines is None else baselines
    return {
        "split": config.split,
        "model": evaluate_system("model", model_predict, gold_rows, config),
        "baselines": {
            name: evaluate_system(name, fn, gold_rows, config) for name, fn in baselines.items()
        },
    }


def write_report(report: Mapping[str, Any], reports_dir: Path = REPORTS_DIR) -> tuple[Path, Path]:
    """Write ``evaluation.json`` (DVC metrics) and ``evaluation.md`` (for people)."""
    json_path = write_metrics("evaluation", dict(report), reports_dir)
    md_path = reports_dir / "evaluation.md"
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path


def systems(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(display name, results) for the model, then each baseline."""
    return [("model", report["model"]), *report.get("baselines", {}).items()]


def render_markdown(report: Mapping[str, Any]) -> str:
    entries = systems(report)
    first = entries[0][1]
    lines = [
        "# Evaluation",
        "",
        f"Main-profile {report.get('split', 'test')} rows: {first['n_rows']} "
        f"({first['n_clean_rows']} left clean on "
        f"purpose){_sources_sentence(first)}. Rates are corpus-level; brackets give bootstrap 95% "
        "confidence intervals. `broken rate` is measured on the clean rows only.",
        "",
        "## Overall",
        "",
        _table(
            ["system", *(LABELS[m] for m in METRICS)],
            [[name, *(_cell(result[m]) for m in METRICS)] for name, result in entries],
        ),
        "",
    ]
    # Read back from JSON (sorted keys), a report lists its types and buckets alphabetically.
    types = sorted(first.get("per_type", {}), key=_type_rank)
    if types:
        lines += ["## CER out by mutation type (single-type test sets)", ""]
        header = ["system", *types]
        rows = [["input (CER in)", *(_cell(first["per_type"][t]["cer_in"]) for t in types)]]
        rows += [
            [name, *(_cell(r["per_type"][t]["cer_out"]) for t in types)] for name, r in entries
        ]
        lines += [_table(header, rows), "", "## CER reduction by mutation type", ""]
        rows = [
            [name, *(_cell(r["per_type"][t]["cer_reduction"]) for t in types)]
            for name, r in entries
        ]
        lines += [_table(header, rows), ""]
    buckets = sorted(first.get("by_length", {}), key=_bucket_start)
    if buckets:
        lines += ["## CER out by length of the clean text (UTF-8 bytes)", ""]
        header = ["system", *buckets]
        rows = [["rows", *(str(first["by_length"][b]["n_rows"]) for b in buckets)]]
        rows += [["input (CER in)", *(_cell(first["by_length"][b]["cer_in"]) for b in buckets)]]
        rows += [
            [name, *(_cell(r["by_length"][b]["cer_out"]) for b in buckets)] for name, r in entries
        ]
        lines += [_table(header, rows), ""]
    lines += _source_section(entries)
    return "\n".join(lines)


def _sources_sentence(result: Mapping[str, Any]) -> str:
    by_source = result.get("by_source") or {}
    if not by_source:
        return ""
    counts = ", ".join(f"{name} {m['n_rows']}" for name, m in sorted(by_source.items()))
    return f", by corpus source: {counts}"


def _source_section(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """One row per (source, system): how each system does on each corpus source."""
    sources = sorted(entries[0][1].get("by_source") or {})
    if not sources:
        return []
    header = ["source", "system", "rows", *(LABELS[m] for m in SOURCE_METRICS)]
    rows = []
    for source in sources:
        for name, result in entries:
            metrics = result["by_source"][source]
            counted = f"{metrics['n_rows']} ({metrics['n_clean_rows']} clean)"
            rows.append([source, name, counted, *(_cell(metrics[m]) for m in SOURCE_METRICS)])
    return ["## By corpus source (main-profile test rows)", "", _table(header, rows), ""]


# --- plots ---------------------------------------------------------------------------------------


def plot_cer_by_type(report: Mapping[str, Any], path: Path) -> Path:
    """Grouped bars: CER out per mutation type (and overall) for the model and each baseline."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    entries = systems(report)
    groups = ["overall", *entries[0][1].get("per_type", {})]
    figure = Figure(figsize=(max(6.0, 1.6 * len(groups)), 4.0), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / len(entries)
    for k, (name, result) in enumerate(entries):
        metrics = [result, *(result["per_type"][g] for g in groups[1:])]
        values = [_value(m["cer_out"]) for m in metrics]
        errors = np.array([_error_bar(m["cer_out"]) for m in metrics]).T
        positions = np.arange(len(groups)) + (k - (len(entries) - 1) / 2) * width
        axes.bar(positions, values, width, yerr=errors, capsize=3, label=name)
    axes.set_xticks(np.arange(len(groups)), groups)
    axes.set_ylabel("CER (lower is better)")
    axes.set_title("Character error rate after repair, by mutation type")
    axes.legend()
    return _save(figure, path)


# --- helpers -------------------------------------------------------------------------------------


def _type_rank(name: str) -> tuple[int, str]:
    order = [t.value for t in MutationType]
    return (order.index(name) if name in order else len(order), name)


def _bucket_start(name: str) -> int:
    return int(name.rstrip("+").split("-")[0])


def _row_columns(
    rows: Sequence[Row], predictions: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-row numerators and denominators (all rows; clean rows): metrics are ratios of sums."""
    columns: dict[str, list[float]] = {
        k: [] for k in ("d_in", "d_out", "chars", "wd_out", "words", "exact", "ones")
    }
    clean_columns: dict[str, list[float]] = {"broken": [], "given": []}
    for row, prediction in zip(rows, predictions, strict=True):
        clean, corrupted = row["clean"], row["corrupted"]
        reference_words = clean.split()
        columns["d_in"].append(Levenshtein.distance(clean, corrupted))
        columns["d_out"].append(Levenshtein.distance(clean, prediction))
        columns["chars"].append(len(clean))
        columns["wd_out"].append(Levenshtein.distance(reference_words, prediction.split()))
        columns["words"].append(len(reference_words))
        columns["exact"].append(prediction == clean)
        columns["ones"].append(1)
        if is_clean_row(row):
            clean_columns["broken"].append(Levenshtein.distance(corrupted, prediction))
            clean_columns["given"].append(len(corrupted))
    return _arrays(columns), _arrays(clean_columns)


def _arrays(columns: Mapping[str, list[float]]) -> dict[str, np.ndarray]:
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def _bootstrap_sums(
    columns: Mapping[str, np.ndarray], n_resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Column sums over `n_resamples` row resamples (with replacement), shape (n_resamples,)."""
    names = list(columns)
    matrix = np.stack([columns[name] for name in names], axis=1)  # rows x columns
    n = matrix.shape[0]
    if n == 0 or n_resamples <= 0:
        return {name: np.zeros(max(n_resamples, 0)) for name in names}
    chunks = []
    block = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        # How often each row is drawn in each resample, counted in one bincount (row offsets keep
        # resamples apart); a matmul then gives every column's resampled sum.
        draws = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        chunks.append(counts.astype(np.float64) @ matrix)
    sums = np.concatenate(chunks)
    return {name: sums[:, k] for k, name in enumerate(names)}


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _ratios(sums: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "cer_in": _divide(sums["d_in"], sums["chars"]),
        "cer_out": _divide(sums["d_out"], sums["chars"]),
        # Same denominator for cer_in and cer_out, so 1 - cer_out/cer_in = 1 - d_out/d_in.
        "cer_reduction": 1.0 - _divide(sums["d_out"], sums["d_in"]),
        "wer_out": _divide(sums["wd_out"], sums["words"]),
        "exact_match": _divide(sums["exact"], sums["ones"]),
    }


def _clean_ratios(sums: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"broken_rate": _divide(sums["broken"], sums["given"])}


def _with_ci(estimate: float, resampled: np.ndarray, confidence: float) -> dict[str, Any]:
    if math.isnan(estimate):
        return {"value": None, "ci": None}
    finite = resampled[~np.isnan(resampled)]
    if finite.size == 0:
        return {"value": round(float(estimate), 6), "ci": None}
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return {"value": round(float(estimate), 6), "ci": [round(float(lo), 6), round(float(hi), 6)]}


def _value(metric: Mapping[str, Any]) -> float:
    return float("nan") if metric["value"] is None else metric["value"]


def _error_bar(metric: Mapping[str, Any]) -> tuple[float, float]:
    if metric["value"] is None or metric["ci"] is None:
        return (0.0, 0.0)
    lo, hi = metric["ci"]
    return (max(metric["value"] - lo, 0.0), max(hi - metric["value"], 0.0))


def _cell(metric: Mapping[str, Any]) -> str:
    if metric["value"] is None:
        return "–"
    text = f"{100 * metric['value']:.2f}%"
    if metric["ci"]:
        lo, hi = metric["ci"]
        text += f" [{100 * lo:.2f}, {100 * hi:.2f}]"
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
