"""The Rollouts screen is light over SSH (issue 10 s.4): an identical health answer repaints
nothing, a selection change repaints the health pane once per new answer (never the whole pane
again for the same text), and a row's verdict repaints that cell, not the table. Counted as the
repaints Textual is asked for (Widget.refresh), not as bytes or time: deterministic under load.
The byte figures come from tests/bench/bench_bandwidth.py."""

from __future__ import annotations

from console.canary import Check, RevisionHealth, Verdict
from screens.rollouts import RolloutsScreen
from test_rollouts_screen import FRAUD, make_app, open_rollouts, sandbox, table, text_of, wait_for  # noqa: F401

ANSWER = Verdict("failing", "failing checks 1 of 2",
                 [Check("success_rate", 0.9, 0.999, 0.99, False, "success rate 90.00% (>= 99.00%)"),
                  Check("p99_latency", 0.1, 0.1, 0.5, True, "p99 latency 100 ms (<= 500 ms)")],
                 RevisionHealth("fraud-detector-predictor-00002", "canary", 20, 300.0, 30.0, 1.0, 0.9, 0.05, 0.1),
                 RevisionHealth("fraud-detector-predictor-00001", "stable", 80, 1200.0, 1.0, 4.0, 0.999, 0.05, 0.1),
                 "success rate 90.00% (>= 99.00%)")


async def move_to(pilot, key: str) -> None:
    """The arrow keys, as a person presses them (the table has the keys already)."""
    app = pilot.app
    rows = [row.key.value for row in table(app).ordered_rows]
    steps = rows.index(key) - table(app).cursor_row
    for _ in range(abs(steps)):
        await pilot.press("down" if steps > 0 else "up")
    await wait_for(pilot, lambda: app.screen.selected() is not None and app.screen.selected().key == key,
                   what=f"{key} selected")


class Repaints:
    """Counts the repaints asked of one widget: whole (no region: all of it) and partial."""

    def __init__(self, widget):
        self.whole = self.partial = 0
        original = widget.refresh

        def refresh(*regions, **kwargs):
            if regions:
                self.partial += 1
            else:
                self.whole += 1
            return original(*regions, **kwargs)

        widget.refresh = refresh


async def test_identical_answers_repaint_nothing_and_a_new_row_repaints_its_pane_once_per_answer(
        sandbox, tmp_path, monkeypatch):  # noqa: F811
    answers: list[str] = []

    def fetch(self, key, *_):  # Prometheus, answering the same every time
        answers.append(key)
        self.post_message(self.HealthReady(key, ANSWER))

    monkeypatch.setattr(RolloutsScreen, "_fetch_health", fetch)
    monkeypatch.setattr(RolloutsScreen, "health_interval", 0.05)
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await wait_for(pilot, lambda: answers.count(FRAUD) >= 3 and "FAILING CHECKS" in text_of(app, "#isvc-health-body"),
                       what="the verdict of fraud-detector")
        screen = app.screen
        body, pane, rows = (Repaints(screen.query_one("#isvc-health-body")), Repaints(screen.query_one("#isvc-health")),
                            Repaints(table(app)))
        seen = len(answers)
        await wait_for(pilot, lambda: len(answers) >= seen + 10, what="ten more answers")
        assert (body.whole, body.partial, pane.whole, pane.partial, rows.whole) == (0, 0, 0, 0, 0)

        # Another row: the placeholder, then the answer (one repaint each, of the lines that
        # differ, or one layout when the text is much longer), then nothing while it is the same;
        # the table: the cursor's rows and the verdict's cell, never the whole table.
        # the next row down: one move, so no row is passed on the way (each passed row draws too)
        order = [row.key.value for row in table(app).ordered_rows]
        churn = order[order.index(FRAUD) + 1]
        await move_to(pilot, churn)
        await wait_for(pilot, lambda: answers.count(churn) >= 3, what=f"answers for {churn}")
        drawn_once = body.whole + body.partial
        assert 0 < drawn_once <= 2
        assert rows.whole == 0
        assert table(app).get_cell(churn, "verdict").plain == "✗ FAIL" == table(app).get_cell(FRAUD, "verdict").plain
        seen = len(answers)
        await wait_for(pilot, lambda: len(answers) >= seen + 10, what="ten more answers")
        assert body.whole + body.partial == drawn_once

        # Back to a row already answered: its last answer at once, nothing when the next is the same.
        await move_to(pilot, FRAUD)
        seen = len(answers)
        await wait_for(pilot, lambda: len(answers) >= seen + 5, what="five more answers")
        assert body.whole + body.partial <= drawn_once + 1  # its last answer; the next is the same
        assert rows.whole == 0
        assert "FAILING CHECKS" in text_of(app, "#isvc-health-body")


async def test_a_selection_move_repaints_the_panes_by_line_never_whole(sandbox, tmp_path, monkeypatch):  # noqa: F811
    """The detail and health panes keep their size whatever their text (a longer text moves the
    scrollbar): a move to a row never seen repaints the lines that changed, never a whole pane
    (a pane laid out again is repainted whole, twice, and its container with it)."""

    def fetch(self, key, *_):
        self.post_message(self.HealthReady(key, ANSWER))

    monkeypatch.setattr(RolloutsScreen, "_fetch_health", fetch)
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await wait_for(pilot, lambda: "FAILING CHECKS" in text_of(app, "#isvc-health-body"), what="the verdict")
        screen = app.screen
        panes = [screen.query_one(selector) for selector in
                 ("#isvc-detail-body", "#isvc-health-body", "#isvc-detail", "#isvc-health")]
        sizes = [pane.size for pane in panes]
        repaints = [Repaints(pane) for pane in panes]
        for key in [row.key.value for row in table(app).ordered_rows][1:]:
            await move_to(pilot, key)
            await wait_for(pilot, lambda k=key: k in text_of(app, "#isvc-detail-body")
                           and f"{k.split('/')[1][:18]}" in text_of(app, "#isvc-health-body"), what=f"{key} shown")
            await pilot.pause()
            assert [r.whole for r in repaints] == [0, 0, 0, 0], key
            assert [pane.size for pane in panes] == sizes
        assert repaints[0].partial >= 1 and repaints[1].partial >= 1


async def test_a_new_rows_health_is_drawn_once_when_fast_and_says_it_is_asking_when_slow(
        sandbox, tmp_path, monkeypatch):  # noqa: F811
    """A row's first answer replaces the last row's panel in one repaint (no "Asking…" in
    between, which would double the bytes of a move); what stays meanwhile names its own row. An
    answer slower than HEALTH_PENDING_AFTER shows "Asking Prometheus about <row>…" meanwhile."""
    import threading

    from screens import rollouts as rollouts_screen

    release = threading.Event()
    slow: set[str] = set()

    def fetch(self, key, *_):
        if key in slow:
            def later():
                release.wait(30)
                self.app.call_from_thread(self.post_message, self.HealthReady(key, ANSWER))
            threading.Thread(target=later, daemon=True).start()
        else:
            self.post_message(self.HealthReady(key, ANSWER))

    monkeypatch.setattr(RolloutsScreen, "_fetch_health", fetch)
    monkeypatch.setattr(rollouts_screen, "HEALTH_PENDING_AFTER", 1.0)  # well after a fast answer, under load too
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await wait_for(pilot, lambda: "fraud-detector at " in text_of(app, "#isvc-health-body"), what="the first answer")
        order = [row.key.value for row in table(app).ordered_rows]
        fast, slow_key = order[order.index(FRAUD) + 1], order[order.index(FRAUD) + 2]
        slow.add(slow_key)
        body = app.screen.query_one("#isvc-health-body")
        shown: list[str] = []
        original = body.show

        def show(text, **kwargs):
            shown.append(text.plain)
            return original(text, **kwargs)

        body.show = show
        await move_to(pilot, fast)
        name = fast.split("/")[1]
        await wait_for(pilot, lambda: f"{name[:18]}" in text_of(app, "#isvc-health-body"), what=f"{fast}'s answer")
        assert not any("Asking Prometheus" in text for text in shown), shown
        assert all(name[:18] in text for text in shown if text.strip()), shown  # each panel names its row

        shown.clear()
        await move_to(pilot, slow_key)
        await wait_for(pilot, lambda: f"Asking Prometheus about {slow_key}" in text_of(app, "#isvc-health-body"),
                       what="the words for a slow answer")
        release.set()
        slow_name = slow_key.split("/")[1][:18]
        await wait_for(pilot, lambda: f"{slow_name} at " in text_of(app, "#isvc-health-body"), what="the slow answer")
