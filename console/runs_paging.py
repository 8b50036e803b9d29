"""Listing Kubeflow Pipelines runs a page at a time, and keeping the listing live (no Textual).

- RunQuery: the filters and the failed-first order, as server-side segments (failed runs first,
  then the rest), each listed newest first;
- RunPager: walks a query page by page, segment after segment, and survives a refused page token;
- refresh_runs: one live refresh (the head of each segment, every active run, and the runs that
  were active last time);
- RunList: the runs a screen shows, in the query's order, as pages and refreshes merge into it.

Every call to KFP goes through the PipelinesClient given; callers run them off the UI thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.errors import NotFound
from adapters.pipelines import ACTIVE_STATES, PageTokenExpired, PipelinesClient, Run, RunPage

SORT_BY = "created_at desc"
STATE_CYCLE: tuple[str | None, ...] = (None, "FAILED", "RUNNING", "PENDING", "SUCCEEDED", "CANCELED")
GONE = "GONE"  # a listed run KFP no longer has (deleted)

Predicate = tuple[tuple[str, Any], ...]  # a predicate dict, hashable


@dataclass(frozen=True)
class Segment:
    rank: int
    state: str | None = None
    predicates: tuple[Predicate, ...] = ()

    def predicate_dicts(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self.predicates]


NOT_FAILED: Predicate = (("key", "state"), ("operation", "NOT_EQUALS"), ("string_value", "FAILED"))


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
        return not self.text or self.text.lower() in run.display_name.lower()

    def rank(self, run: Run) -> int:
        return 0 if (self.failed_first and self.state is None and run.state == "FAILED") else 1

    def sort_key(self, run: Run) -> tuple[Any, ...]:
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

    client: PipelinesClient
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

    def _list(self, segment: Segment, size: int, token: str | None, resume: datetime | None) -> RunPage:
        kwargs = self.query.list_kwargs(segment)
        if resume is not None:
            kwargs["predicates"] = kwargs["predicates"] + [{
                "key": "created_at", "operation": "LESS_THAN_EQUALS",
                "timestamp_value": resume.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}]
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


@dataclass
class Refresh:
    """What one live refresh read: the runs, the listed runs KFP no longer has, and each segment's total."""

    runs: list[Run]
    vanished: list[str]
    totals: list[int]


def refresh_runs(client: PipelinesClient, query: RunQuery, known_active: Iterable[str], head: int = 20,
                 max_gets: int = 25) -> Refresh:
    """One live refresh: the head page of each segment (new runs; kept short because KFP pages are
    heavy), every active run, and a re-read of runs that were active last time and are not in either
    (they finished)."""
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
    return Refresh(list(runs.values()), vanished, totals)


def summary_of(run: Run) -> Run:
    """A run as a listing keeps it (the listing's fields; a detail's tasks dropped)."""
    from dataclasses import replace

    return replace(run, tasks=[], has_details=False)


@dataclass
class Changes:
    """How a merge changed a RunList: what a table showing it must add, remove and update."""

    added: list[Run] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[Run] = field(default_factory=list)  # listed before, and different now (GONE included)
    resort: bool = False  # the order changed: a run was added or moved between segments

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.resort)


class RunList:
    """The runs of one query as a screen lists them: the pages loaded so far (first page, then
    more), kept live by refreshes. A refresh adds a new run only where the list already reaches (a
    run older than the last loaded one belongs to a page not loaded yet), removes runs that left the
    query, and marks runs KFP no longer has as GONE."""

    def __init__(self, query: RunQuery, pager: RunPager | None = None, runs: Iterable[Run] = ()):
        self.query = query
        self.pager = pager
        self.runs: dict[str, Run] = {}  # in the order loaded
        self.extend(runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self.runs

    def get(self, run_id: str | None) -> Run | None:
        return self.runs.get(run_id) if run_id is not None else None

    @property
    def complete(self) -> bool:
        return self.pager is None or self.pager.done

    @property
    def total(self) -> int | None:
        return self.pager.total if self.pager is not None else None

    def extend(self, runs: Iterable[Run]) -> list[Run]:
        """A page: the runs not listed yet, in order (those are the rows to add)."""
        added = []
        for run in runs:
            if run.run_id not in self.runs:
                self.runs[run.run_id] = run
                added.append(run)
        return added

    def active_ids(self) -> list[str]:
        """The listed runs a refresh must follow: those not finished (and not gone)."""
        return [run_id for run_id, run in self.runs.items() if not run.finished and run.state != GONE]

    def merge(self, refresh: Refresh) -> Changes:
        query = self.query
        oldest = min((r.created_at for r in self.runs.values() if r.created_at), default=None)
        changes = Changes()
        for run in refresh.runs:
            old = self.runs.get(run.run_id)
            if old is not None:
                if not query.matches(run):
                    del self.runs[run.run_id]
                    changes.removed.append(run.run_id)
                elif run != old:
                    self.runs[run.run_id] = run
                    changes.updated.append(run)
                    changes.resort |= query.rank(old) != query.rank(run)
            elif query.matches(run) and (self.complete or oldest is None
                                         or (run.created_at is not None and run.created_at >= oldest)):
                self.runs[run.run_id] = run
                changes.added.append(run)
                changes.resort = True
        for run_id in refresh.vanished:
            gone = self.mark_gone(run_id)
            if gone is not None:
                changes.updated.append(gone)
        if self.pager is not None and len(refresh.totals) == len(self.pager.segments):
            self.pager.totals = dict(enumerate(refresh.totals))
        return changes

    def update(self, run: Run) -> Changes:
        """A run read on its own (its detail): the listed summary follows it."""
        old = self.runs.get(run.run_id)
        summary = summary_of(run)
        if old is None or summary == old:
            return Changes()
        self.runs[run.run_id] = summary
        return Changes(updated=[summary], resort=self.query.rank(old) != self.query.rank(summary))

    def mark_gone(self, run_id: str) -> Run | None:
        """A listed run KFP no longer has: it stays, marked GONE (None when not listed or already)."""
        from dataclasses import replace

        run = self.runs.get(run_id)
        if run is None or run.state == GONE:
            return None
        self.runs[run_id] = gone = replace(run, state=GONE)
        return gone
