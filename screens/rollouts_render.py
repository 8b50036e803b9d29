"""What the Rollouts screen draws, as rich Text: table cells, the traffic bar, the detail view and
the canary health panel. Pure functions of plain data (adapters.kube.InferenceService,
console.canary.Verdict): no Textual, no I/O, so they are cheap to test and to benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from console import humanize, rollouts
from console.safe_text import literal, safe

BAR_WIDTH = 20
FULL, EMPTY = "█", "░"

# Table columns: (key, label, width of the content). Widths are fixed so that the table never
# scrolls sideways; the name takes what the others leave. Narrower than WIDE, mode and age give
# their room to the name (the detail shows both), and the namespace is cut shorter.
WIDE = 100
TABLE_GUTTER = 3  # the table's border (2) and its vertical scrollbar (1)
MIN_NAME = 12
WIDE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("namespace", "namespace", 12),
    ("name", "name", 0),
    ("mode", "mode", 4),
    ("ready", "ready", 8),
    ("prev", "prev", 5),
    ("prev_pct", "%", 3),
    ("latest", "latest", 6),
    ("latest_pct", "%", 3),
    ("spec", "spec", 4),
    ("verdict", "verdict", 7),
    ("age", "age", 4),
)
NARROW_COLUMNS = tuple(("namespace", "ns", 6) if key == "namespace" else (key, label, width)
                       for key, label, width in WIDE_COLUMNS if key not in ("mode", "age"))


def columns(width: int) -> tuple[tuple[str, str, int], ...]:
    """The table's columns for a screen `width` cells wide: (key, label, content width); each
    column also takes one cell of padding on either side."""
    chosen = WIDE_COLUMNS if width >= WIDE else NARROW_COLUMNS
    rest = width - TABLE_GUTTER - sum(w + 2 for _, _, w in chosen)
    return tuple((key, label, w or max(MIN_NAME, rest)) for key, label, w in chosen)


def fit(value: str, width: int) -> str:
    """Cut to `width` cells with an ellipsis."""
    return value if cell_len(value) <= width else set_cell_size(value, max(0, width - 1)) + "…"


def short_revision(isvc: Any, revision: str | None) -> str:
    """"fraud-detector-predictor-00002" -> "00002" (the part that changes); other names as they are."""
    if not revision:
        return ""
    if isvc.is_raw and revision.startswith(f"{isvc.name}-") and revision.endswith("-predictor"):
        # Standard mode: "ad-ctr-v30-predictor" -> "v30"; the unnamed stable "ad-ctr-predictor" -> "stable"
        return safe(revision[len(isvc.name) + 1:-len("-predictor")] or "stable")
    prefix = f"{isvc.name}-predictor-"
    if isvc.name and revision.startswith(prefix) and len(revision) > len(prefix):
        return safe(revision[len(prefix):])
    return safe(revision)


def age(created_at: str | None, now: float) -> str:
    """The AGE column: 45s, 12m, 5h, 3d (blank when unknown): the one duration formatter's first unit."""
    return humanize.age(created_at, now, short=True)


def mode_label(isvc: Any, short: bool = False) -> str:
    """The deployment mode; short for the table ("Svl" / "Raw"), in full for the detail view."""
    if isvc.is_raw:
        if short:
            return "Std" if isvc.raw_deployment_mode == "Standard" else "Raw"
        return isvc.raw_deployment_mode or "RawDeployment"
    if isvc.mode == "Serverless":
        return "Svl" if short else "Serverless"
    return str(isvc.mode)


def ready_cell(isvc: Any) -> Text:
    if isvc.deleting:  # deletionTimestamp set: finalizers hold it until KServe has cleaned up
        return Text("deleting", style="bold magenta")
    new_model_down = isvc.failing_revision or (isvc.standard_canary and rollouts.latest_not_ready(isvc))
    if isvc.ready is True and not new_model_down:
        return Text("True", style="green")
    if isvc.ready is True:  # served, but the newest revision never became ready
        return Text("True!", style="yellow")
    if isvc.ready is False:
        return Text("False", style="bold red")
    return Text("?", style="yellow")


def _percent(value: int | None) -> str:
    return "" if value is None else f"{value}"


def served_percent(isvc: Any, revision: str | None) -> int | None:
    """The share a revision serves in total (status traffic may list one revision twice, e.g. as
    both "latest" and "prev" while the newest revision is not ready)."""
    if not revision:
        return None
    shares = [t.percent for t in isvc.traffic if t.revision == revision and t.percent is not None]
    return sum(shares) if shares else None


VERDICT_CELLS = {  # a symbol and a word as well as a colour: it reads the same under NO_COLOR
    "healthy": ("✓ ok", "green"),
    "failing": ("✗ FAIL", "bold red"),
    "not-enough-data": ("? n/a", "yellow"),
}


def verdict_cell(verdict: Any | None) -> Text:
    """The last canary verdict of the row's health check; "–" while none is known."""
    if verdict is None:
        return Text("–", style="dim")
    label, style = VERDICT_CELLS.get(verdict.status, ("?", "yellow"))
    return Text(label, style=style)


def row_cells(isvc: Any, now: float, layout: tuple[tuple[str, str, int], ...] = WIDE_COLUMNS,
              verdict: Any | None = None) -> tuple[Text, ...]:
    """One table row, in the order of `layout` (from columns()). Every cell is literal Text."""
    problems = bool(isvc.problems)
    not_ready = rollouts.latest_not_ready(isvc)
    failed = bool(not_ready and not_ready.failed)
    prev = short_revision(isvc, isvc.prev_revision) if isvc.prev_revision != isvc.latest_revision else ""
    latest_percent = isvc.latest_percent if prev else served_percent(isvc, isvc.latest_revision)
    latest_style = "yellow" if latest_percent not in (None, 100) and prev else ""
    name_style = "bold red" if failed else "bold yellow" if problems else "bold"
    marks = (" ✗" if failed else "") + (" ⚠" if problems else "")  # the failed revision, a malformed object
    widths = {key: width for key, _, width in layout}
    spec = isvc.canaries[0].percent if isvc.standard_canary else isvc.canary_traffic_percent  # what the spec asks
    cells: dict[str, Callable[[], Text]] = {
        "namespace": lambda: literal(isvc.namespace),  # cut with an ellipsis by the column
        "name": lambda: literal(fit(safe(isvc.name), widths["name"] - len(marks)) + marks, name_style),
        "mode": lambda: literal(mode_label(isvc, short=True), "dim" if isvc.is_raw else ""),
        "ready": lambda: ready_cell(isvc),
        "prev": lambda: literal(prev),
        "latest": lambda: literal(short_revision(isvc, isvc.latest_revision)),
        "prev_pct": lambda: literal(_percent(isvc.prev_percent) if prev else ""),
        "latest_pct": lambda: literal(_percent(latest_percent), latest_style),
        "spec": lambda: literal(_percent(spec), "dim" if isvc.is_raw and not isvc.standard_canary else ""),
        "verdict": lambda: verdict_cell(verdict),
        "age": lambda: literal(age(isvc.created_at, now), "dim"),
    }
    return tuple(cells[key]() for key, _, _ in layout)


def matches(isvc: Any, text: str) -> bool:
    """The `/` filter: every word must appear in namespace/name, mode or the model URI."""
    if not text:
        return True
    hay = f"{isvc.namespace}/{isvc.name} {mode_label(isvc)} {mode_label(isvc, True)} {isvc.storage_uri or ''}".lower()
    return all(word in hay for word in text.lower().split())


# -- the traffic bar --------------------------------------------------------------------------

def bar(percent: int | None, width: int = BAR_WIDTH) -> str:
    if percent is None:
        return EMPTY * width
    cells = int(round(max(0, min(100, percent)) * width / 100))
    if percent > 0 and cells == 0:
        cells = 1  # a 1% canary is still visible
    return FULL * cells + EMPTY * (width - cells)


def traffic_bar(isvc: Any, width: int = BAR_WIDTH) -> Text:
    """The served split, one line per revision:

        prev   00001 ████████████████░░░░  80%
        latest 00002 ████░░░░░░░░░░░░░░░░  20%
    """
    text = Text()
    if isvc.standard_canary:
        return standard_bar(isvc, width)
    if isvc.is_raw:
        text.append("  no traffic split: RawDeployment serves one Deployment, without revisions\n", style="dim")
        return text
    if not isvc.traffic:
        text.append("  no traffic reported in status yet\n", style="yellow")
        return text
    lines: list[tuple[str, str | None, int | None, str]] = []
    if isvc.prev_revision and isvc.prev_revision != isvc.latest_revision:
        lines.append(("prev", isvc.prev_revision, isvc.prev_percent, "blue"))
    if isvc.latest_revision:
        percent = isvc.latest_percent if lines else served_percent(isvc, isvc.latest_revision)
        lines.append(("latest", isvc.latest_revision, percent, "magenta" if lines else "green"))
    seen = {rev for _, rev, _, _ in lines}
    for target in isvc.traffic:  # anything else the status lists (tags, stray revisions)
        if target.revision not in seen:
            lines.append((target.tag or "other", target.revision, target.percent, "yellow"))
            seen.add(target.revision)
    for label, revision, percent, style in lines:
        text.append(f"  {label:<6} ", style="dim")
        text.append(f"{short_revision(isvc, revision):<6}", style="bold")
        text.append(bar(percent, width), style=style)
        text.append(f" {'?' if percent is None else percent:>3}%\n", style="bold" if label == "latest" else "")
    return text


def standard_bar(isvc: Any, width: int = BAR_WIDTH) -> Text:
    """Standard mode: the HTTPRoute's weighted backends, the stable predictor first:

        stable        ████████████████░░░░  80%
        canary v30    ████░░░░░░░░░░░░░░░░  20%
    """
    text = Text()
    for target in isvc.traffic:
        label = "canary" if target.latest else "stable"
        name = short_revision(isvc, target.revision)
        text.append(f"  {label:<6} ", style="dim")
        text.append(f"{'' if name == 'stable' else name:<6}", style="bold")  # an unnamed stable predictor
        text.append(bar(target.percent, width), style="magenta" if target.latest else "blue")
        text.append(f" {'?' if target.percent is None else target.percent:>3}%", style="bold" if target.latest else "")
        if target.latest and target.ready is not True:
            text.append(" not ready" if target.ready is False else " ready?", style="bold yellow")
        text.append("\n")
    return text


def _catalog_line(text: Text, uri: str, catalog: dict[str, Any] | None) -> None:
    found = (catalog or {}).get(uri)
    if found is None:
        text.append("  catalog    looking up…\n", style="dim")
    elif isinstance(found, tuple):
        text.append("  catalog    ", style="dim")
        text.append(safe(f"{found[0]} v{found[1]}"), style="bold cyan")
        text.append("  (c: open in the catalog)\n", style="dim")
    else:
        text.append(f"  catalog    {safe(found)}\n", style="yellow")


def catalog_uris(isvc: Any) -> list[str]:
    """The storage URIs the detail maps to catalog versions: the stable model, then each canary's."""
    uris = [isvc.storage_uri] + [c.storage_uri for c in isvc.canaries]
    return list(dict.fromkeys(u for u in uris if u))


# -- the detail view --------------------------------------------------------------------------

def _section(text: Text, title: str) -> None:
    text.append(f"\n{title}\n", style="bold underline")


def detail(isvc: Any, *, catalog: dict[str, Any] | None = None, last_result: str | None = None,
           bar_width: int = BAR_WIDTH, pods_say: str | None = None) -> Text:
    """Everything about one InferenceService. `catalog` maps storage URI -> (model, version) or
    an error string / None while unknown; `pods_say`: why the not-ready revision's pods are not
    ready (console/rollouts.py pods_say)."""
    text = Text()
    text.append(f"{safe(isvc.namespace)}/{safe(isvc.name)}\n", style="bold")
    text.append(f"  {mode_label(isvc)}", style="dim")
    if isvc.resource_version:
        text.append(f" · resourceVersion {isvc.resource_version}", style="dim")
    text.append("\n")
    if isvc.deleting:
        text.append("  deleting: the object goes once KServe's finalizer has cleaned up\n", style="bold magenta")
    if last_result:
        text.append(f"  {safe(last_result)}\n", style="green")
    text.append_text(traffic_bar(isvc, bar_width))
    for canary in isvc.canaries:
        text.append(f"  spec canary {canary.name} trafficPercent: ", style="dim")
        text.append(f"{_percent(canary.percent) or '?'}\n")
    if not isvc.is_raw:
        spec = "unset (latest takes 100%)" if isvc.canary_traffic_percent is None else f"{isvc.canary_traffic_percent}"
        text.append("  spec canaryTrafficPercent: ", style="dim")
        text.append(spec + "\n")
    elif isvc.canary_traffic_percent is not None:
        text.append(f"  spec canaryTrafficPercent {isvc.canary_traffic_percent} is ignored in this mode\n",
                    style="yellow")
    not_ready = rollouts.latest_not_ready(isvc)
    if not_ready:
        short = short_revision(isvc, not_ready.revision)
        if not_ready.failed:
            text.append(f"  ✗ {short} (the new model) FAILED", style="bold red")
        else:
            text.append(f"  … {short} (the new model) is not ready yet", style="bold yellow")
        text.append(f": {safe(not_ready.message)}\n", style="red" if not_ready.failed else "yellow")
        if pods_say:
            text.append("    its pods: ", style="dim")
            text.append(f"{safe(pods_say)}\n", style="red" if not_ready.failed else "yellow")

    cannot = cannot_lines(isvc)
    if cannot:
        _section(text, "What actions cannot do here")
        for line in cannot:
            text.append(f"  • {safe(line)}\n", style="magenta")

    _section(text, "Model")
    if isvc.storage_uri:
        if isvc.canaries:
            text.append(f"  stable     {safe(isvc.predictor_name or '(unnamed)')}\n", style="dim")
        text.append("  storageUri ", style="dim")
        text.append(safe(isvc.storage_uri) + "\n")
        _catalog_line(text, isvc.storage_uri, catalog)
    else:
        text.append("  no storageUri in the predictor spec\n", style="yellow")
    for canary in isvc.canaries:
        text.append(f"  canary     {safe(canary.name)}\n", style="dim")
        text.append("  storageUri ", style="dim")
        text.append(safe(canary.storage_uri or "-") + "\n")
        if canary.storage_uri:
            _catalog_line(text, canary.storage_uri, catalog)

    if isvc.is_raw:
        _deployments(text, isvc)
    else:
        _revisions(text, isvc)

    _conditions(text, isvc)
    return text


def _deployments(text: Text, isvc: Any) -> None:
    """Standard mode: the predictor's Deployments (stable, then each canary), what each serves."""
    _section(text, "Deployments")
    if not isvc.traffic:
        text.append(f"  {safe(isvc.stable_deployment)}  stable\n", style="dim")
        return
    for target in isvc.traffic:
        text.append(f"  {safe(target.revision or '?'):<24}", style="bold")
        text.append(f"{'' if target.percent is None else str(target.percent) + '%':>5} ")
        if target.ready is False:
            text.append("NOT READY ", style="bold red")
        text.append("canary\n" if target.latest else "stable\n", style="dim")


def _revisions(text: Text, isvc: Any) -> None:
    _section(text, "Revisions")
    revisions = rollouts.revisions(isvc)
    if not revisions:
        text.append("  none reported\n", style="dim")
    for revision in revisions:
        name = short_revision(isvc, revision["name"])
        text.append(f"  {name:<8}", style="bold")
        percent = revision.get("percent")
        text.append(f"{'' if percent is None else str(percent) + '%':>5} ")
        if revision.get("ready") is False:
            text.append("NOT READY ", style="bold red")
        text.append(", ".join(revision["roles"]) + "\n", style="dim")


def _conditions(text: Text, isvc: Any) -> None:
    _section(text, "Conditions")
    if not isvc.conditions:
        text.append("  none reported\n", style="dim")
    for condition in isvc.conditions:
        mark, style = {"True": ("✓", "green"), "False": ("✗", "bold red")}.get(condition.status, ("?", "yellow"))
        text.append(f"  {mark} ", style=style)
        text.append(safe(condition.type))
        if condition.reason:
            text.append(f" {safe(condition.reason)}", style=style)
        text.append("\n")
        if condition.message and condition.status != "True":
            text.append(f"      {safe(condition.message)}\n", style="dim")

    if isvc.problems:
        _section(text, "Problems with this object")
        for problem in isvc.problems:
            text.append(f"  ⚠ {safe(problem)}\n", style="yellow")


def cannot_lines(isvc: Any) -> list[str]:
    """What the actions cannot do on this InferenceService, in words (console/rollouts.py)."""
    lines: list[str] = []
    refusal = rollouts.canary_refusal(isvc)
    if refusal:
        lines.append(refusal)
        return lines
    if isvc.standard_canary:
        first = isvc.canaries[0]
        if first.ready is not True:
            lines.append(f"canary {first.name} is not ready: it takes no traffic whatever its trafficPercent "
                         f"(the HTTPRoute weighs in ready canaries only)")
        lines.append(f"b (roll back) removes canary {first.name} and its Deployment; p (promote) makes it the stable "
                     f"predictor without restarting its pods")
        return lines
    if isvc.failing_revision:
        lines.append(f"revision {short_revision(isvc, isvc.latest_created_revision)} is not ready: it takes no "
                     f"traffic whatever the percentage (KServe routes to the latest ready revision)")
    if rollouts.has_canary_revision(isvc):
        lines.append("b (roll back) " + rollouts.ROLLBACK_NOTE)
    elif rollouts.rolls_back_a_promotion(isvc):
        lines.append(f"b (roll back) undoes the promotion: {short_revision(isvc, isvc.previous_rolledout_revision)} "
                     f"takes all traffic again; +/-/p/o have nothing to steer")
    else:
        lines.append("no canary running: +/-/p/o/b have nothing to steer; n starts one")
    return lines


# -- the canary health panel ------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 1000:.0f} ms"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def health(verdict: Any, isvc: Any, stamp: str | None = None) -> Text:
    """Canary against stable: the verdict, whose it is and when (`stamp`), the figures side by
    side, top drifting features. The pane's title stays the same from row to row (a border
    line is the costliest line to rewrite over SSH): the row's name is in the text."""
    text = Text()
    style = {"healthy": "bold green", "failing": "bold red"}.get(verdict.status, "bold yellow")
    text.append("verdict ", style="dim")
    text.append(safe(verdict.text.upper() if verdict.status == "failing" else verdict.text), style=style)
    text.append("\n")
    if stamp is not None:  # second, before a reason of any length: the row's name is always in view
        name = safe(isvc.name)
        text.append(f"{name if len(name) <= 19 else name[:18] + '…'} at {stamp}\n", style="dim")
    if verdict.reason:
        text.append(f"{safe(verdict.reason)}\n", style="dim")
    canary, stable = verdict.canary, verdict.stable
    columns = [h for h in (canary, stable) if h is not None]
    if columns:
        text.append(f"{'' if stamp else chr(10)}{'':<9}")
        for h in columns:
            text.append(f"{h.role or 'canary':>10}", style="bold")
        text.append("\n")
        rows: Iterable[tuple[str, Any]] = (
            ("revision", lambda h: short_revision(isvc, h.revision)),
            ("traffic", lambda h: "n/a" if h.traffic_percent is None else f"{h.traffic_percent}%"),
            ("success", lambda h: _pct(h.success_rate)),
            ("p50", lambda h: _ms(h.p50_seconds)),
            ("p99", lambda h: _ms(h.p99_seconds)),
            ("req/s", lambda h: _num(h.request_rate, 2)),
            ("requests", lambda h: _num(h.requests)),
        )
        for label, get in rows:
            text.append(f"{label:<9}", style="dim")
            for h in columns:
                text.append(f"{get(h):>10}")
            text.append("\n")
    if verdict.checks:
        text.append("\n")
        for check in verdict.checks:
            mark, mstyle = {True: ("✓", "green"), False: ("✗", "bold red")}.get(check.passed, ("?", "yellow"))
            text.append(f"{mark} ", style=mstyle)
            text.append(f"{safe(check.text)}\n")
    if verdict.top_drift:
        text.append("\ntop drift (PSI vs stable)\n", style="bold")
        for feature in verdict.top_drift:
            dstyle = {"drift": "bold red", "warn": "yellow"}.get(feature.status, "")
            psi = "n/a" if feature.psi is None else f"{feature.psi:.3f}"
            text.append(f"  {safe(feature.feature)[:14]:<14} {psi:>6} ", style="")
            text.append(f"{feature.status}\n", style=dstyle)
            if feature.live_count is not None and feature.reference_count is not None:
                text.append(f"    n={feature.live_count:.0f}/{feature.reference_count:.0f}"
                            f" floor {feature.noise_floor or 0:.3f}\n", style="dim")
    elif canary is not None and stable is not None:
        text.append("\nno feature drift data for this pair\n", style="dim")
    if verdict.metrics and verdict.metrics.get("profile"):
        text.append(f"\n{safe(verdict.metrics['text'])}\n", style="dim")
    return text
