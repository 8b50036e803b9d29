"""What the Pipelines screen shows, without Textual: state looks, durations, the table's cells and
title, the run detail and the filter summary. The listing itself (query, pager, live merge) is
console/runs_paging.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from adapters.errors import ConsoleError, InvalidInput
from adapters.pipelines import Run, Task
from console import humanize
from console.runs_paging import RunQuery
from console.safe_text import literal, safe

# state -> (icon, style)
STATE_LOOK: dict[str, tuple[str, str]] = {
    "SUCCEEDED": ("✔", "green"),
    "FAILED": ("✖", "bold red"),
    "RUNNING": ("⟳", "yellow"),
    "PENDING": ("…", "cyan"),
    "CANCELING": ("⊘", "magenta"),
    "CANCELED": ("⊘", "dim magenta"),
    "SKIPPED": ("↷", "dim"),
    "PAUSED": ("‖", "cyan"),
    "GONE": ("?", "dim"),
}


def state_icon(state: str) -> tuple[str, str]:
    return STATE_LOOK.get(state, ("?", ""))


def state_text(state: str) -> Text:
    icon, style = state_icon(state)
    return Text(f"{icon} {safe(state)}", style=style, no_wrap=True, overflow="ellipsis")


class KeyedText(Text):
    """A table cell that carries the row's sort key, so DataTable.sort can order rows by it."""

    sort_key: tuple[Any, ...] = ()


fmt_duration = humanize.duration


def local(dt: datetime | None, fmt: str) -> str:
    return dt.astimezone().strftime(fmt) if dt else ""


def fmt_start(dt: datetime | None) -> str:
    return local(dt, "%m-%d %H:%M")


def clock_dt(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


# ---------------------------------------------------------------------------------------------
# The run detail


@dataclass
class ProducedVersion:
    model: str
    version: str


def middle_truncate(text: str, width: int) -> str:
    """Shorten a run name in the middle, keeping its tail (a version or a date tells runs apart)."""
    if width <= 0 or len(text) <= width:
        return text
    if width < 8:
        return text[: width - 1] + "…"
    tail = max(4, (width - 1) // 2)
    head = width - 1 - tail
    return text[:head] + "…" + text[-tail:]


COLUMNS = (("state", "state"), ("run", "name"), ("experiment", "experiment"), ("started", "started"),
           ("duration", "duration"))  # (label, key)


def column_widths(width: int) -> dict[str, int]:
    """The runs table's column widths for a terminal this wide: the name takes what is left."""
    experiment = 14 if width < 100 else 22
    fixed = {"state": 11, "experiment": experiment, "started": 11, "duration": 8}
    # border 2, scrollbar 2, one cell of padding on each side of every column
    name = max(12, width - 4 - 2 * len(COLUMNS) - sum(fixed.values()))
    return {**fixed, "name": name}


def row_cells(run: Run, experiment: str, now: datetime, sort_key: tuple[Any, ...] = (),
              name_width: int = 0) -> tuple[Text, Text, Text, Text, Text]:
    started = KeyedText(fmt_start(run.created_at), no_wrap=True, overflow="ellipsis")
    started.sort_key = sort_key
    name = middle_truncate(run.display_name, name_width)
    return (state_text(run.state), literal(name, "bold" if run.state == "FAILED" else ""),
            literal(experiment, "dim"), started, literal(fmt_duration(run.duration(now))))


def failure_style(run: Run) -> str:
    return "bold red" if run.state == "FAILED" or run.failing_task is not None else "magenta"


def render_detail(run: Run, *, experiment: str, now: datetime, width: int = 76,
                  versions: list[ProducedVersion] | None = None, catalog_note: str | None = None,
                  note: str | None = None) -> Text:
    """The detail of one run: the failure first (readable without scrolling), then what it is,
    the catalog versions it produced, the task tree with states, timings and pods, and the history."""
    text = Text(no_wrap=False)
    icon, style = state_icon(run.state)
    text.append(f"{icon} {safe(run.state)}", style=style)
    text.append("  ")
    text.append(safe(run.display_name), style="bold")
    text.append("\n")
    if note:
        text.append(safe(note) + "\n", style="yellow")
    failure = run.failure
    if failure and run.state not in ("SUCCEEDED", "RUNNING", "PENDING"):
        text.append("✖ " if run.state == "FAILED" else "⊘ ", style=failure_style(run))
        text.append(safe(failure, multiline=True), style=failure_style(run))
        text.append("\n")
    elif failure and run.state in ("RUNNING", "PENDING"):
        text.append("earlier failure (retrying): ", style="yellow")
        text.append(safe(failure, multiline=True), style="yellow")
        text.append("\n")
    text.append("run ", style="dim")
    text.append(safe(run.run_id))
    text.append("  experiment ", style="dim")
    text.append(safe(experiment))
    text.append("\n")
    text.append("created ", style="dim")
    text.append(local(run.created_at, "%Y-%m-%d %H:%M:%S"))
    if run.finished_at:
        text.append("  finished ", style="dim")
        text.append(local(run.finished_at, "%H:%M:%S"))
    duration = run.duration(now)
    if duration is not None:
        waiting = {"PENDING": "  pending for ", "PAUSED": "  paused for ", "CANCELING": "  canceling for "}
        text.append("  took " if run.finished else waiting.get(run.state, "  running for "), style="dim")
        text.append(fmt_duration(duration))
    text.append("\n")
    if versions:
        text.append("produced ", style="dim")
        text.append(safe(", ".join(f"{v.model} v{v.version}" for v in versions)), style="bold cyan")
        text.append("  (m opens it in the catalog)\n", style="dim")
    elif catalog_note:
        text.append(safe(catalog_note) + "\n", style="dim")
    if run.parameters:
        text.append("params ", style="dim")
        text.append(safe(", ".join(f"{k}={_short(v)}" for k, v in run.parameters.items())))
        text.append("\n")

    text.append("\nTasks\n", style="bold underline")
    tree = run.task_tree()
    if not tree:
        text.append("  (no tasks yet" + (": the run is waiting to be scheduled)" if run.state == "PENDING" else ")")
                    + "\n", style="dim")
    name_w = max([len(t.display_name) + 2 * depth for depth, t in tree] + [12])
    name_w = min(name_w, 28)
    for depth, task in tree:
        _task_lines(text, task, depth, name_w, now, width)

    if run.state_history:
        text.append("\nState history\n", style="bold underline")
        for change in run.state_history:
            icon, style = state_icon(change.state)
            text.append(f"  {local(change.at, '%m-%d %H:%M:%S')}  ", style="dim")
            text.append(f"{icon} {safe(change.state)}", style=style)
            if change.error:
                text.append("  ")
                text.append(safe(change.error, multiline=True), style="red" if change.state == "FAILED" else "")
            text.append("\n")
    text.rstrip()
    return text


def _task_lines(text: Text, task: Task, depth: int, name_w: int, now: datetime, width: int) -> None:
    icon, style = state_icon(task.state)
    indent = "  " * depth
    label = safe(task.display_name)
    room = max(4, name_w - len(indent))
    if len(label) > room:
        label = label[: room - 1] + "…"
    line = Text()
    line.append(indent)
    line.append(f"{icon} ", style=style)
    line.append(f"{label:<{room}} ")
    line.append(f"{safe(task.state):<10}", style=style)
    line.append(f" {local(task.start_time, '%H:%M:%S') or '--:--:--'}", style="dim")
    line.append(f" {fmt_duration(task.duration(now)):>7}")
    pod = task.pod_name
    if pod and line.cell_len + 6 + len(pod) <= width:
        line.append("  pod ", style="dim")
        line.append(safe(pod))
        pod = None
    text.append_text(line)
    text.append("\n")
    pad = " " * (2 + len(indent) + 2)
    if pod:
        text.append(f"{pad}pod ", style="dim")
        text.append(safe(pod))
        text.append("\n")
    if task.failed_pods:
        text.append(f"{pad}earlier attempts ", style="dim")
        text.append(safe(", ".join(task.failed_pods)))
        text.append("\n")
    if task.error and task.state in ("FAILED", "CANCELED"):
        text.append(f"{pad}error ", style="dim")
        text.append(safe(task.error, multiline=True), style="red" if task.state == "FAILED" else "magenta")
        text.append("\n")


def _short(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def detail_placeholder(*, unavailable: str | None, selected: str | None, note: str | None, empty: bool) -> Text:
    """The detail pane when it shows no run: why (KFP down, a run that could not be read, no run
    matches), or that it is loading."""
    if unavailable:
        text = Text("Kubeflow Pipelines is not available\n\n", style="bold red")
        text.append(safe(unavailable) + "\n", style="red")
        text.append("\nThe list fills as soon as KFP answers; r retries now.", style="dim")
    elif selected and note:
        text = Text(f"run {safe(selected)}\n", style="bold")
        text.append(safe(note), style="red")
    elif selected:
        text = Text("Loading…", style="dim")
    elif empty:
        text = Text("No runs match the filters.", style="dim")
        text.append("\n\ns cycles the state, e the experiment, / edits the name filter.", style="dim")
    else:
        text = Text("Loading runs…", style="dim")
    return text


def filter_summary(query: RunQuery, experiment_name: str | None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")

    def part(label: str, value: str, on: bool) -> None:
        text.append(f"{label} ", style="dim")
        text.append(safe(value), style="bold yellow" if on else "")
        text.append("  ")

    part("s state", query.state or "all", query.state is not None)
    part("e exp", experiment_name or "all", query.experiment_id is not None)
    part("f failed-first", "on" if query.failed_first else "off", query.failed_first)
    return text


def runs_title(shown: int, total: int | None, *, more: bool, empty: bool, unavailable: bool,
               updated: float | None) -> str:
    """The table's title: how many runs are shown of how many, and how fresh they are."""
    title = f"Runs {shown}/{total}" if total is not None else f"Runs {shown}"
    if more:
        title += " · more below"
    elif empty and not unavailable:
        title += " · no runs match the filters"
    if unavailable:
        title += " · KFP unavailable"
    if updated is not None:
        title += " · updated " + datetime.fromtimestamp(updated).strftime("%H:%M:%S")
    return title


def problem(error: ConsoleError) -> str:
    """What a KFP error means for this screen, in a few words."""
    if isinstance(error, InvalidInput) and "URL" in error.message:
        return "Kubeflow Pipelines is not configured"
    return {
        "unavailable": "KFP unavailable",
        "forbidden": "KFP refused access",
        "not found": "not found",
        "invalid input": "KFP rejected the request",
        "page token expired": "page token expired",
    }.get(error.kind, f"KFP error ({error.kind})")
