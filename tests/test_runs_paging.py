"""KFP run listing without Textual (console/runs_paging.py): the pager against the KFP sandbox over
real HTTP through the real client, and the live merge rules of RunList.

Page tokens carry their own query (kubeflow/pipelines backend/src/apiserver/server/list_request_util.go);
the sandbox follows it, and can refuse tokens as a server of another version would.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.pipelines import PipelinesClient, Run
from console.runs_paging import GONE, Refresh, RunList, RunPager, RunQuery, refresh_runs
from console.sandbox.kfp_server import KfpSandbox

FROZEN = 1717336800.0  # 2024-06-02 14:00:00 UTC, the sandbox world's t0


def make_sandbox(state_dir: Path, n_runs: int = 50) -> KfpSandbox:
    sandbox = KfpSandbox(state_dir, n_runs=n_runs, time_scale=0.0, seed=7, t0=FROZEN)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="module")
def kfp(tmp_path_factory):
    sandbox = make_sandbox(tmp_path_factory.mktemp("kfp"))
    yield sandbox
    sandbox.stop()


def test_pager_walks_every_run_once_failed_first(kfp):
    with PipelinesClient(kfp.base_url) as client:
        pager = RunPager(client, RunQuery(failed_first=True))
        runs = []
        while not pager.done:
            runs += pager.next_page(7)
        assert pager.total == 50
    ids = [r.run_id for r in runs]
    assert len(ids) == len(set(ids)) == 50
    n_failed = len(kfp.runs_in_state("FAILED"))
    assert [r.state for r in runs[:n_failed]] == ["FAILED"] * n_failed
    assert all(r.state != "FAILED" for r in runs[n_failed:])
    rest = [r.created_at for r in runs[n_failed:]]
    assert rest == sorted(rest, reverse=True)


def test_pager_resumes_after_a_refused_token(tmp_path):
    sandbox = make_sandbox(tmp_path / "kfp", n_runs=120)
    try:
        with PipelinesClient(sandbox.base_url) as client:
            pager = RunPager(client, RunQuery())
            runs = pager.next_page(40)
            sandbox.reject_page_tokens()  # as after a KFP upgrade: its tokens never expire
            while not pager.done:
                runs += pager.next_page(40)
        assert pager.restarts == 1
        assert sorted(r.run_id for r in runs) == sorted(sandbox.world.runs)
    finally:
        sandbox.stop()


def test_a_refresh_of_an_unchanged_world_changes_nothing_and_a_moved_one_only_what_moved(tmp_path):
    sandbox = make_sandbox(tmp_path / "kfp")
    try:
        with PipelinesClient(sandbox.base_url) as client:
            query = RunQuery()
            pager = RunPager(client, query)
            listing = RunList(query, pager, pager.next_page(30))
            assert not listing.merge(refresh_runs(client, query, listing.active_ids()))

            before = {run_id: run.state for run_id, run in listing.runs.items()}
            sandbox.advance(600)  # ten simulated minutes: some active runs finish
            changes = listing.merge(refresh_runs(client, query, listing.active_ids()))
        now = sandbox.now()
        moved = {run_id for run_id, state in before.items() if sandbox.world.runs[run_id].state_at(now) != state}
        assert moved, "the sandbox moved no listed run on; the test needs one that does"
        assert {run.run_id for run in changes.updated} >= moved
        assert not changes.removed
        assert all(listing.runs[run_id].state == sandbox.world.runs[run_id].state_at(now) for run_id in moved)
    finally:
        sandbox.stop()


# ---------------------------------------------------------------------------------------------
# The merge rules, on runs made here

T0 = datetime(2024, 6, 2, 14, 0, tzinfo=UTC)


def run(run_id: str, state: str = "RUNNING", minutes_ago: int = 0, name: str | None = None) -> Run:
    return Run(run_id=run_id, display_name=name or f"run-{run_id}", experiment_id="exp", state=state,
               created_at=T0 - timedelta(minutes=minutes_ago))


class DonePager:
    """A pager that has listed everything (no request is made)."""

    def __init__(self, query: RunQuery, done: bool):
        self.query, self.done, self.segments, self.totals = query, done, query.segments(), {}

    @property
    def total(self) -> int | None:
        return sum(self.totals.values()) if len(self.totals) == len(self.segments) else None


def listing_of(runs: list[Run], *, done: bool = False, query: RunQuery | None = None) -> RunList:
    query = query or RunQuery()
    return RunList(query, DonePager(query, done), runs)  # type: ignore[arg-type]


def test_merge_follows_state_changes_and_leaves_the_rest():
    listing = listing_of([run("a", minutes_ago=1), run("b", "SUCCEEDED", minutes_ago=2)])
    changes = listing.merge(Refresh([run("a", "SUCCEEDED", minutes_ago=1), run("b", "SUCCEEDED", minutes_ago=2)],
                                    [], [2]))
    assert [r.run_id for r in changes.updated] == ["a"] and not changes.added and not changes.removed
    assert listing.runs["a"].state == "SUCCEEDED" and not changes.resort
    assert listing.total == 2


def test_merge_adds_new_runs_only_where_the_list_reaches():
    listing = listing_of([run("a", minutes_ago=5), run("b", minutes_ago=10)])  # more pages not loaded
    changes = listing.merge(Refresh([run("new", minutes_ago=1), run("old", minutes_ago=60)], [], [4]))
    assert [r.run_id for r in changes.added] == ["new"] and changes.resort  # "old" belongs to a later page
    assert "old" not in listing
    complete = listing_of([run("a", minutes_ago=5)], done=True)
    assert [r.run_id for r in complete.merge(Refresh([run("old", minutes_ago=60)], [], [2])).added] == ["old"]


def test_merge_removes_runs_that_left_the_query_and_marks_vanished_ones_gone_once():
    query = RunQuery(state="RUNNING")
    listing = listing_of([run("a"), run("b", minutes_ago=1), run("c", minutes_ago=2)], query=query)
    changes = listing.merge(Refresh([run("a", "FAILED")], ["c"], [1]))
    assert changes.removed == ["a"] and "a" not in listing
    assert [(r.run_id, r.state) for r in changes.updated] == [("c", GONE)]
    assert listing.active_ids() == ["b"]  # a gone run is not asked for again
    assert not listing.merge(Refresh([], ["c"], [1]))


def test_failed_first_resorts_when_a_run_fails():
    listing = listing_of([run("a"), run("b", "SUCCEEDED", minutes_ago=1)], query=RunQuery(failed_first=True))
    changes = listing.merge(Refresh([run("a", "FAILED"), run("b", "SUCCEEDED", minutes_ago=1)], [], [1, 1]))
    assert changes.resort and [r.run_id for r in changes.updated] == ["a"]
    assert listing.total == 2


def test_a_detail_read_updates_the_listed_summary_only_when_it_differs():
    listing = listing_of([run("a")])
    detailed = replace(run("a"), has_details=True, tasks=[])
    assert not listing.update(detailed)  # the same run, with its details: nothing to repaint
    changes = listing.update(replace(detailed, state="FAILED"))
    assert [r.state for r in changes.updated] == ["FAILED"] and not listing.runs["a"].has_details
    assert not listing.update(run("elsewhere"))
