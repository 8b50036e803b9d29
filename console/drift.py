"""Drift statistics: pure arithmetic, no I/O, no Textual (DESIGN section 6).

Histograms come in as Prometheus `le` buckets (cumulative counts per upper bound, e.g. the
`increase()` of `model_feature_value_bucket` over a window) or as catalog reference histograms
({"edges": [e0..eN], "counts": [c1..cN]}). Both are turned into a `Histogram`: the upper bounds
of N bins (the last one +Inf) and the non-cumulative count in each bin.

Rules that keep the numbers honest:
- no data is None, never 0 and never NaN;
- PSI uses bin shares clamped at 1e-4, so an empty bin does not make it infinite;
- the noise floor E[PSI] ~ (B-1)(1/n + 1/m) is reported next to every PSI, and "drift" needs
  PSI above both the drift threshold and `floor_factor` times that floor.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SHARE_FLOOR = 1e-4

OK = "ok"
WARN = "warn"
DRIFT = "drift"
TOO_FEW = "too-few-samples"
NO_DATA = "no-data"
STATUSES = (DRIFT, WARN, OK, TOO_FEW, NO_DATA)  # most to least alarming, for sorting

INF = math.inf


@dataclass(frozen=True)
class Thresholds:
    """When a feature is called warn or drift. Defaults follow the usual PSI rules of thumb."""

    warn: float = 0.1
    drift: float = 0.25
    floor_factor: float = 3.0  # drift only when PSI >= floor_factor * expected noise floor
    min_samples: int = 50  # per side; fewer gives too-few-samples

    @classmethod
    def from_settings(cls, section: object | None) -> Thresholds:
        """Build from a config section object (attributes warn, drift, floor_factor, min_samples),
        keeping the default for anything absent or None."""
        if section is None:
            return cls()
        kwargs = {}
        for name in ("warn", "drift", "floor_factor", "min_samples"):
            value = getattr(section, name, None)
            if value is None and isinstance(section, Mapping):
                value = section.get(name)
            if value is not None:
                kwargs[name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class Histogram:
    """N bins: `bounds[i]` is the upper bound of bin i (the last is +Inf), `counts[i]` the
    non-cumulative count in it."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return float(sum(self.counts))

    def shares(self) -> list[float]:
        total = self.total
        if total <= 0:
            return [0.0] * len(self.counts)
        return [c / total for c in self.counts]


@functools.lru_cache(maxsize=4096)  # a handful of distinct `le` labels, parsed for every sample
def parse_le(value: str | float) -> float:
    """A Prometheus `le` label value as a float ("+Inf" -> inf)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if text in ("+Inf", "Inf", "inf", "+inf"):
        return INF
    return float(text)


def from_buckets(buckets: Mapping[str, float | None] | Mapping[float, float | None]
                 | Iterable[tuple[str | float, float | None]]) -> Histogram | None:
    """De-cumulate `le` buckets into a Histogram.

    Returns None when there is no usable data: no buckets, no +Inf bucket, a NaN or None value
    in any bucket. Small decreases between neighbouring cumulative buckets (each series of an
    `increase()` is extrapolated on its own) are clamped to 0 rather than going negative.
    """
    items = list(buckets.items()) if isinstance(buckets, Mapping) else list(buckets)
    if not items:
        return None
    pairs: list[tuple[float, float]] = []
    for le, value in items:
        if value is None:
            return None
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return None
        pairs.append((parse_le(le), v))
    pairs.sort(key=lambda p: p[0])
    if pairs[-1][0] != INF:
        return None
    bounds: list[float] = []
    counts: list[float] = []
    prev = 0.0
    for le, cumulative in pairs:
        cumulative = max(cumulative, 0.0)
        counts.append(max(cumulative - prev, 0.0))
        prev = max(prev, cumulative)
        bounds.append(le)
    return Histogram(tuple(bounds), tuple(counts))


def from_catalog(reference: Mapping[str, Any]) -> Histogram | None:
    """A catalog reference histogram {"edges": [e0..eN], "counts": [c1..cN]} as a Histogram whose
    bounds match the exporter's `le` buckets (e1..e(N-1), +Inf); see console/demo_data.py."""
    try:
        edges = [float(e) for e in reference["edges"]]
        counts = [float(c) for c in reference["counts"]]
    except (KeyError, TypeError, ValueError):
        return None
    if len(counts) < 1 or len(edges) != len(counts) + 1:
        return None
    if any(math.isnan(c) or c < 0 for c in counts):
        return None
    bounds = tuple(edges[1:-1]) + (INF,)
    return Histogram(bounds, tuple(counts))


def same_bins(a: Histogram, b: Histogram) -> bool:
    if len(a.bounds) != len(b.bounds):
        return False
    return all(x == y or (x != INF and y != INF and math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9))
               for x, y in zip(a.bounds, b.bounds, strict=True))


def _totals(live: Sequence[float], reference: Sequence[float]) -> tuple[float, float] | None:
    """The two sample sizes, or None when the bins differ or either side has no samples."""
    if len(live) != len(reference) or not live:
        return None
    tl = float(sum(live))
    tr = float(sum(reference))
    if not (tl > 0 and tr > 0) or math.isnan(tl) or math.isnan(tr):
        return None
    return tl, tr


def psi(live: Sequence[float], reference: Sequence[float], floor: float = SHARE_FLOOR) -> float | None:
    """Population stability index from two lists of per-bin counts (or shares).

    PSI = sum over bins of (live - ref) * ln(live / ref) on shares clamped at `floor`.
    None when either side has no samples or the bin counts differ.
    """
    totals = _totals(live, reference)
    if totals is None:
        return None
    tl, tr = totals
    total = 0.0
    for a, b in zip(live, reference, strict=True):
        p = max(a / tl, floor)
        q = max(b / tr, floor)
        total += (p - q) * math.log(p / q)
    return total


def js_distance(live: Sequence[float], reference: Sequence[float]) -> float | None:
    """Jensen-Shannon distance (square root of the divergence, log base 2), in [0, 1].

    Unlike PSI it needs no clamping: empty bins contribute nothing. None without samples.
    """
    totals = _totals(live, reference)
    if totals is None:
        return None
    tl, tr = totals
    div = 0.0
    for a, b in zip(live, reference, strict=True):
        p = a / tl
        q = b / tr
        m = (p + q) / 2
        if p > 0:
            div += 0.5 * p * math.log2(p / m)
        if q > 0:
            div += 0.5 * q * math.log2(q / m)
    return math.sqrt(max(div, 0.0))


def noise_floor(bins: int, n: float | None, m: float | None) -> float | None:
    """Expected PSI with no drift at all, from sample sizes: (B-1)(1/n + 1/m).

    None when either side has no samples.
    """
    if not n or not m or n <= 0 or m <= 0 or bins < 1:
        return None
    return (bins - 1) * (1.0 / n + 1.0 / m)


def classify(value: float | None, n: float | None, m: float | None, floor: float | None,
             thresholds: Thresholds = Thresholds()) -> str:
    """ok | warn | drift | too-few-samples | no-data."""
    if value is None or not n or not m:
        return NO_DATA
    if n < thresholds.min_samples or m < thresholds.min_samples:
        return TOO_FEW
    if value >= thresholds.drift and (floor is None or value >= thresholds.floor_factor * floor):
        return DRIFT
    if value >= thresholds.warn:
        return WARN
    return OK


@dataclass
class FeatureDrift:
    """One feature compared with its reference. Numbers are None when there is no data."""

    feature: str
    psi: float | None
    js: float | None
    live_count: float | None
    reference_count: float | None
    noise_floor: float | None
    status: str
    reason: str | None = None  # why there is no number, in words
    live: Histogram | None = None
    reference: Histogram | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "psi": _round(self.psi),
            "js": _round(self.js),
            "live_count": _round(self.live_count, 3),
            "reference_count": _round(self.reference_count, 3),
            "noise_floor": _round(self.noise_floor),
            "status": self.status,
            "reason": self.reason,
        }


def _round(v: float | None, digits: int = 6) -> float | None:
    if v is None or math.isnan(v):
        return None
    return round(v, digits)


def compare(feature: str, live: Histogram | None, reference: Histogram | None,
            thresholds: Thresholds = Thresholds()) -> FeatureDrift:
    """PSI, JS distance, sample sizes, noise floor and status of one feature."""
    n = live.total if live is not None else None
    m = reference.total if reference is not None else None
    if live is None or not n:
        return FeatureDrift(feature, None, None, n, m, None, NO_DATA,
                            "no live samples in the window", live, reference)
    if reference is None or not m:
        return FeatureDrift(feature, None, None, n, m, None, NO_DATA,
                            "no reference samples", live, reference)
    if not same_bins(live, reference):
        return FeatureDrift(feature, None, None, n, m, None, NO_DATA,
                            "reference bins differ from the live bins", live, reference)
    value = psi(live.counts, reference.counts)
    js = js_distance(live.counts, reference.counts)
    floor = noise_floor(len(live.counts), n, m)
    status = classify(value, n, m, floor, thresholds)
    reason = None
    if status == TOO_FEW:
        reason = f"fewer than {thresholds.min_samples} samples on a side ({n:.0f} live, {m:.0f} reference)"
    return FeatureDrift(feature, value, js, n, m, floor, status, reason, live, reference)


def sort_key(result: FeatureDrift) -> tuple[int, float, str]:
    """Most alarming first: by status, then by PSI descending, then by name."""
    rank = STATUSES.index(result.status) if result.status in STATUSES else len(STATUSES)
    return (rank, -(result.psi if result.psi is not None else -1.0), result.feature)


def sorted_by_drift(results: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    return sorted(results, key=sort_key)


def parse_duration(text: str) -> float:
    """'15m', '1h', '90s', '1d', '1h30m' -> seconds. Raises ValueError on anything else."""
    text = str(text).strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if not text:
        raise ValueError("empty duration")
    total = 0.0
    num = ""
    i = 0
    seen = False
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not num:
            raise ValueError(f"not a duration: {text!r} (use e.g. 15m, 1h, 6h, 24h)")
        total += float(num) * units[unit]
        num = ""
        seen = True
        i += len(unit)
    if num:
        raise ValueError(f"not a duration: {text!r} (a unit is missing: use e.g. 15m, 1h)")
    if not seen or total <= 0:
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds as a PromQL duration ('900' -> '15m')."""
    s = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{max(s, 1)}s"
