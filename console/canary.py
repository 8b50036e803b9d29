"""Canary against stable: the health checks and the verdict. Pure logic, no I/O, no Textual.

The checks follow Flagger's defaults: the canary's request success rate must be at least 99%
and its p99 latency at most 500 ms over the window. A check whose value is unknown (no requests,
NaN quantile) is not passed and not failed: when any check is unknown, or the canary served fewer
than `min_requests` requests in the window, the verdict is "not enough data", never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

HEALTHY = "healthy"
FAILING = "failing"
NOT_ENOUGH_DATA = "not-enough-data"


@dataclass(frozen=True)
class HealthThresholds:
    min_success_rate: float = 0.99
    max_p99_seconds: float = 0.5
    min_requests: int = 20  # per window, on the canary, before any verdict

    @classmethod
    def from_settings(cls, section: object | None) -> HealthThresholds:
        if section is None:
            return cls()
        kwargs = {}
        for name in ("min_success_rate", "max_p99_seconds", "min_requests"):
            value = getattr(section, name, None)
            if value is None and isinstance(section, Mapping):
                value = section.get(name)
            if value is not None:
                kwargs[name] = value
        return cls(**kwargs)


@dataclass
class RevisionHealth:
    """What one revision did over the window. None means no data, never 0."""

    revision: str
    role: str = ""  # canary | stable | latest | serving (the last ready one, while the newest is not)
    traffic_percent: int | None = None
    requests: float | None = None  # sample size: requests in the window
    errors: float | None = None  # 5xx responses in the window
    request_rate: float | None = None  # per second
    success_rate: float | None = None  # share of non-5xx, 0..1
    p50_seconds: float | None = None
    p99_seconds: float | None = None

    def to_json(self) -> dict:
        return {k: _clean(v) for k, v in self.__dict__.items()}


def _clean(v):
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        return round(v, 6)
    return v


@dataclass
class Check:
    name: str  # revision_ready | success_rate | p99_latency
    value: float | None  # the canary's value
    stable_value: float | None
    threshold: float | None
    passed: bool | None  # None: unknown (no data)
    text: str

    def to_json(self) -> dict:
        return {"name": self.name, "value": _clean(self.value), "stable_value": _clean(self.stable_value),
                "threshold": self.threshold, "passed": self.passed, "text": self.text}


@dataclass
class Verdict:
    status: str  # healthy | failing | not-enough-data
    text: str  # "healthy" | "failing checks N of M" | "not enough data"
    checks: list[Check]
    canary: RevisionHealth | None
    stable: RevisionHealth | None
    reason: str | None = None
    top_drift: list = field(default_factory=list)  # console.drift.FeatureDrift, most drifting first
    metrics: dict | None = None  # which metric profile the figures come from (adapters.metrics.ProfileMatch)

    @property
    def failing(self) -> int:
        return sum(1 for c in self.checks if c.passed is False)

    def to_json(self) -> dict:
        return {
            "verdict": self.text,
            "status": self.status,
            "reason": self.reason,
            "checks": [c.to_json() for c in self.checks],
            "canary": self.canary.to_json() if self.canary else None,
            "stable": self.stable.to_json() if self.stable else None,
            "top_drift": [d.to_json() for d in self.top_drift],
            "metrics": self.metrics,
        }


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.2f}%"


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 1000:.0f} ms"


def evaluate(canary: RevisionHealth | None, stable: RevisionHealth | None = None,
             thresholds: HealthThresholds = HealthThresholds(),
             top_drift: Sequence = ()) -> Verdict:
    """The verdict for `canary` (the revision under test; the only revision when there is no
    canary), with `stable` shown alongside for comparison."""
    checks: list[Check] = []
    if canary is None:
        return Verdict(NOT_ENOUGH_DATA, "not enough data", checks, None, stable,
                       "no canary revision has metrics", list(top_drift))
    sr = canary.success_rate
    checks.append(Check(
        "success_rate", sr, stable.success_rate if stable else None, thresholds.min_success_rate,
        None if sr is None else sr >= thresholds.min_success_rate,
        f"success rate {_pct(sr)} (>= {_pct(thresholds.min_success_rate)})"))
    p99 = canary.p99_seconds
    checks.append(Check(
        "p99_latency", p99, stable.p99_seconds if stable else None, thresholds.max_p99_seconds,
        None if p99 is None else p99 <= thresholds.max_p99_seconds,
        f"p99 latency {_ms(p99)} (<= {_ms(thresholds.max_p99_seconds)})"))
    requests = canary.requests
    if requests is None or requests < thresholds.min_requests:
        seen = "no" if not requests else f"{requests:.0f}"
        return Verdict(NOT_ENOUGH_DATA, "not enough data", checks, canary, stable,
                       f"{canary.revision} served {seen} requests in the window "
                       f"(a verdict needs {thresholds.min_requests})", list(top_drift))
    unknown = [c.name for c in checks if c.passed is None]
    if unknown:
        return Verdict(NOT_ENOUGH_DATA, "not enough data", checks, canary, stable,
                       "no data for " + ", ".join(unknown), list(top_drift))
    failing = sum(1 for c in checks if c.passed is False)
    if failing:
        return Verdict(FAILING, f"failing checks {failing} of {len(checks)}", checks, canary, stable,
                       "; ".join(c.text for c in checks if c.passed is False), list(top_drift))
    return Verdict(HEALTHY, "healthy", checks, canary, stable, None, list(top_drift))


def with_revision_not_ready(verdict: Verdict, revision: str, failed: bool, message: str) -> Verdict:
    """The verdict once the cluster says the newest revision is not ready. Knative keeps routing
    its share to the last ready revision, so the metrics describe that one, never the new model:
    a failed revision is a failed check whatever they say; one still deploying leaves "not enough
    data", never "healthy"."""
    text = f"revision {revision} {'failed' if failed else 'is not ready yet'}: {message}"
    checks = [Check("revision_ready", None, None, None, False if failed else None, text), *verdict.checks]
    canary = verdict.canary
    if canary is not None and canary.revision != revision and canary.role == "latest":
        canary = replace(canary, role="serving")
    failing = [c.text for c in checks if c.passed is False]
    if failing:
        return Verdict(FAILING, f"failing checks {len(failing)} of {len(checks)}", checks, canary,
                       verdict.stable, "; ".join(failing), verdict.top_drift)
    return Verdict(NOT_ENOUGH_DATA, "not enough data", checks, canary, verdict.stable, text, verdict.top_drift)
