"""What the Pipelines screen shows, without Textual: state looks, durations, the run query (filters
and the failed-first order, as server-side segments), the pager that walks it, and the run detail.

The pager calls the PipelinesClient it is given; the screen only ever runs it from thread workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from rich.text import Text

from adapters.pipelines import ACTIVE_STATES, PageTokenExpired, Run, Task
from console import humanize
from console.safe_text import literal, safe

SORT_BY = "created_at desc"

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
STATE_CYCLE: tuple[str | None, ...] = (None, "FAILED", "RUNNING", "PENDING", "SUCCEEDED", "CANCELED")


def state_icon(state: str) -> tuple[str, str]:
    return STATE_LOOK.get(state, ("?", ""))


def state_text(state: str) -> Text:
    icon, style = state_icon(state)
    return Text(f"{icon} {safe(state)}", style=style, no_wrap=True, overflow="ellipsis")


class KeyedText(Text):
    """A table cell that carries the row's sort key, so DataTable.sort can order rows by it."""

    sort_key: tuple = ()


fmt_duration = humanize.duration


def local(dt: datetime | None, fmt: str) -> str:
    return dt.astimezone().strftime(fmt) if dt else ""


def fmt_start(dt: datetime | None) -> str:
    return local(dt, "%m-%d %H:%M")


def clock_dt(now: float) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc)


# ---------------------------------------------------------------------------------------------
# The query: filters, and the failed-first order as two server-side segments


@dataclass(frozen=True)
class Segment:
    rank: int
    state: str | None = None
    predicates: tuple[tuple[tuple[str, Any], ...], ...] = ()  # hashable predicate dicts

    def predicate_dicts(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self.predicates]


NOT_FAILED = (("key", "state"), ("operation", "NOT_EQUALS"), ("string_value", "FAILED"))


@dataclass(frozen=True)
class RunQuery:
    state: str | None = None
    experiment_id: str | None = None
    text: str = ""
    failed_first: bool = False

    def segments(self) -> list[Segment]:
        if self.failed_first and self.state is None:
            return [Segment(0, state="FAILED"), Segment(1, predicates=(NOT_FAILED,))]
        return [Segment(0, state=self.state)]

    def matches(self, run: Run) -> bool:
        if self.state and run.state != self.state:
            return False
        if self.experiment_id and run.experiment_id != self.experiment_id:
            return False
        if self.text and self.text.lower() not in run.display_name.lower():
            return False
        return True

    def rank(self, run: Run) -> int:
        return 0 if (self.failed_first and self.state is None and run.state == "FAILED") else 1

    def sort_key(self, run: Run) -> tuple:
        """Ascending order of the table: failed first (when on), then newest first, then run id desc."""
        created = run.created_at.timestamp() if run.created_at else 0.0
        return (self.rank(run), -created, _desc(run.run_id))

    def list_kwargs(self, segment: Segment) -> dict[str, Any]:
        return {"sort_by": SORT_BY, "state": segment.state, "experiment_id": self.experiment_id,
                "text": self.text or None, "predicates": segment.predicate_dicts()}


def _desc(text: str) -> tuple[int, ...]:
    """A key that sorts strings in descending order inside an ascending sort."""
    return tuple(-ord(c) for c in text) + (1,)


@dataclass
class RunPager:
    """Walks the runs of a query page by page, segment after segment (failed first, then the rest).

    An expired page token does not lose the place: the listing restarts from the server with a
    created_at <= last-seen predicate, and runs already shown are skipped.
    """

    client: Any
    query: RunQuery
    index: int = 0
    token: str | None = None
    done: bool = False
    totals: dict[int, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    last_created: datetime | None = None
    resume_from: datetime | None = None
    restarts: int = 0

    def __post_init__(self) -> None:
        self.segments = self.query.segments()

    @property
    def total(self) -> int | None:
        if len(self.totals) < len(self.segments):
            return None
        return sum(self.totals.values())

    def _list(self, segment: Segment, size: int, token: str | None, resume: datetime | None) -> Any:
        kwargs = self.query.list_kwargs(segment)
        if resume is not None:
            kwargs["predicates"] = kwargs["predicates"] + [{
                "key": "created_at", "operation": "LESS_THAN_EQUALS",
                "timestamp_value": resume.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}]
        return self.client.list_runs(page_size=size, page_token=token, **kwargs)

    def next_page(self, size: int) -> list[Run]:
        out: list[Run] = []
        guard = 0
        while len(out) < size and not self.done:
            guard += 1
            if guard > 50:
                break
            segment = self.segments[self.index]
            try:
                page = self._list(segment, size - len(out), self.token, self.resume_from)
            except PageTokenExpired:
                if self.token is None:
                    raise
                self.token = None
                self.resume_from = self.last_created
                self.restarts += 1
                if self.resume_from is None:
                    self.seen.clear()
                continue
            if self.resume_from is None and self.token is None:
                self.totals[self.index] = page.total_size
            fresh = [r for r in page.runs if r.run_id not in self.seen]
            for run in fresh:
                self.seen.add(run.run_id)
                if run.created_at is not None:
                    self.last_created = run.created_at
            out += fresh
            if page.next_page_token and page.runs:
                self.token = page.next_page_token
            else:
                self._next_segment()
        # a failed-first listing needs the size of its second segment to show a total
        if len(self.segments) > 1 and len(self.totals) < len(self.segments):
            for i, segment in enumerate(self.segments):
                if i not in self.totals:
                    self.totals[i] = self._list(segment, 1, None, None).total_size
        return out

    def _next_segment(self) -> None:
        self.index += 1
        self.token = None
        self.resume_from = None
        self.last_created = None
        if self.index >= len(self.segments):
            self.done = True


def refresh_runs(client: Any, query: RunQuery, known_active: Iterable[str], head: int = 20,
                 max_gets: int = 25) -> tuple[list[Run], list[str], list[int]]:
    """One live refresh: the head page of each segment (new runs; kept short because KFP pages are
    heavy), every active run, and a re-read of runs that were active last time and are not in either
    (they finished). Returns (runs, vanished ids, totals)."""
    from adapters.errors import NotFound

    runs: dict[str, Run] = {}
    totals: list[int] = []
    for segment in query.segments():
        page = client.list_runs(page_size=head, **query.list_kwargs(segment))
        totals.append(page.total_size)
        for run in page.runs:
            runs[run.run_id] = run
    if query.state is None or query.state in ACTIVE_STATES:
        active = client.list_runs(page_size=200, sort_by=SORT_BY, state=sorted(ACTIVE_STATES),
                                  experiment_id=query.experiment_id, text=query.text or None)
        for run in active.runs:
            runs[run.run_id] = run
    vanished: list[str] = []
    missing = [run_id for run_id in known_active if run_id not in runs][:max_gets]
    for run_id in missing:
        try:
            runs[run_id] = client.get_run(run_id)
        except NotFound:
            vanished.append(run_id)
    return list(runs.values()), vanished, totals


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


def row_cells(run: Run, experiment: str, now: datetime, sort_key: tuple = (),
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
        text.append("  took " if run.finished else "  running for ", style="dim")
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
