"""Drift statistics: population stability index and Kolmogorov–Smirnov, feature by feature.

Pure functions over numbers; `textrepair.monitoring.monitor` decides what the numbers are.

- PSI = Σ (current% − reference%) · ln(current% / reference%) over bins cut at the reference's
  quantiles, so each bin holds about the same share of the reference. Empty bins get a small
  floor so the logarithm stays finite. Rules of thumb: < 0.1 stable, 0.1–0.25 moderate,
  > 0.25 large.
- KS: scipy's two-sample test. With thousands of rows any tiny difference is "significant", so a
  feature counts as drifted by KS only when the statistic itself is large too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_FLOOR = 1e-4  # share given to an empty bin so that PSI stays finite


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    ks_statistic: float = 0.1
    ks_alpha: float = 0.01
    bins: int = 10


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks_statistic: float
    ks_pvalue: float
    reference_mean: float
    current_mean: float
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bin_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner cut points at the reference's quantiles (duplicates merged: discrete features)."""
    quantiles = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(quantiles)


def psi(reference: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    """Population stability index of `current` against `reference`."""
    ref, cur = _array(reference), _array(current)
    edges = bin_edges(ref, bins)
    # side="right": a value equal to a cut point falls in the bin above, for both samples alike.
    ref_share = _shares(np.searchsorted(edges, ref, side="right"), len(edges) + 1)
    cur_share = _shares(np.searchsorted(edges, cur, side="right"), len(edges) + 1)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _shares(bin_index: np.ndarray, n_bins: int) -> np.ndarray:
    counts = np.bincount(bin_index, minlength=n_bins).astype(float)
    return np.maximum(counts / counts.sum(), _FLOOR)


def _array(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("drift statistics need at least one value on each side")
    return array


def feature_drift(
    name: str,
    reference: Sequence[float],
    current: Sequence[float],
    thresholds: Thresholds = Thresholds(),
) -> FeatureDrift:
    """PSI and KS of one feature, and whether either crosses its threshold."""
    from scipy.stats import ks_2samp

    ref, cur = _array(reference), _array(current)
    index = psi(ref, cur, thresholds.bins)
    ks = ks_2samp(ref, cur)
    statistic, pvalue = float(ks.statistic), float(ks.pvalue)
    by_ks = statistic > thresholds.ks_statistic and pvalue < thresholds.ks_alpha
    return FeatureDrift(
        feature=name,
        psi=round(index, 6),
        ks_statistic=round(statistic, 6),
        ks_pvalue=pvalue,
        reference_mean=round(float(ref.mean()), 6),
        current_mean=round(float(cur.mean()), 6),
        drifted=bool(index > thresholds.psi or by_ks),
    )


def compare(
    reference: Mapping[str, Sequence[float]],
    current: Mapping[str, Sequence[float]],
    thresholds: Thresholds = Thresholds(),
) -> list[FeatureDrift]:
    """`feature_drift` for every feature of `reference` (which `current` must have too)."""
    missing = sorted(set(reference) - set(current))
    if missing:
        raise ValueError(f"current data lacks features {missing}")
    return [feature_drift(name, reference[name], current[name], thresholds) for name in reference]
