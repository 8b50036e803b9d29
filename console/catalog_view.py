"""What the Catalog screen shows, as plain values (no Textual): the order of aliases, the cells of
a model's and a version's row, and the comparison of two versions with each change judged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.catalog_records import ModelSummary, VersionRecord

ALIAS_ORDER = ("production", "canary", "champion", "staging")
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "mape", "latency", "perplexity", "wer", "cer")


def alias_rank(alias: str) -> tuple[int, str]:
    """The aliases an on-call engineer looks for first come first."""
    return (ALIAS_ORDER.index(alias) if alias in ALIAS_ORDER else len(ALIAS_ORDER), alias)


def lower_is_better(metric: str) -> bool:
    leaf = metric.rsplit(".", 1)[-1].lower()
    return any(word in leaf for word in LOWER_IS_BETTER)


def short_date(value: str | None) -> str:
    return (value or "")[:10]


def format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def model_cells(summary: ModelSummary) -> tuple[str, str, str]:
    """model, versions, aliases ("production=39, staging=40", most looked-for first)."""
    aliases = ", ".join(f"{alias}={version}" for alias, version in
                        sorted(summary.aliases.items(), key=lambda item: alias_rank(item[0])))
    return summary.model, str(summary.versions), aliases


def version_cells(record: VersionRecord, metric: str | None, marked: bool) -> tuple[str, str, str, str, str]:
    """version (with the compare mark), created date, the metric shown, aliases, author."""
    value = record.flat_metrics().get(metric) if metric else None
    return (("● " if marked else "") + record.version, short_date(record.created_at), format_number(value),
            ", ".join(sorted(record.aliases, key=alias_rank)), record.author or "")


@dataclass(frozen=True)
class CompareRow:
    """One line of a two-version comparison."""

    label: str
    a: str
    b: str
    delta: str
    verdict: str  # "better" or "worse" (in the second version), "changed", or ""


def compare_rows(a: VersionRecord, b: VersionRecord) -> list[CompareRow]:
    """Metrics (with the change, judged by whether lower is better), hyperparameters, then lineage."""
    rows: list[CompareRow] = []
    metrics_a, metrics_b = a.flat_metrics(), b.flat_metrics()
    for name in sorted(set(metrics_a) | set(metrics_b)):
        va, vb = metrics_a.get(name), metrics_b.get(name)
        verdict, delta = "", ""
        if va is not None and vb is not None:
            diff = vb - va
            delta = f"{diff:+.4g}"
            if diff:
                better = diff < 0 if lower_is_better(name) else diff > 0
                verdict = "better" if better else "worse"
                delta += " ✓" if better else " ✗"  # not by colour alone (NO_COLOR)
        rows.append(CompareRow(f"metric {name}", format_number(va), format_number(vb), delta, verdict))
    params_a, params_b = a.hyperparameters or {}, b.hyperparameters or {}
    for name in sorted(set(params_a) | set(params_b)):
        pa, pb = params_a.get(name), params_b.get(name)
        changed = pa != pb
        rows.append(CompareRow(f"param {name}", json.dumps(pa), json.dumps(pb), "changed" if changed else "",
                               "changed" if changed else ""))
    lineage: tuple[tuple[str, Any, Any], ...] = (
        ("framework", f"{a.framework or ''} {a.framework_version or ''}".strip(),
         f"{b.framework or ''} {b.framework_version or ''}".strip()),
        ("training rows", (a.training_data or {}).get("rows"), (b.training_data or {}).get("rows")),
        ("training data", (a.training_data or {}).get("uri"), (b.training_data or {}).get("uri")),
        ("created", a.created_at, b.created_at),
        ("author", a.author, b.author),
    )
    for label, va, vb in lineage:
        changed = va != vb
        rows.append(CompareRow(label, format_number(va), format_number(vb), "changed" if changed else "",
                               "changed" if changed else ""))
    return rows
