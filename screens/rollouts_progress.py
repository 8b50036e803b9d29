"""Progressive rollouts from the Rollouts screen (issue 12 §2): g asks for the plan and starts the
same console/progress_run.py ProgressRun the CLI's `rollout progress` runs, space pauses and
resumes it, a aborts it (rolls back, after a confirmation); quitting the console while one runs asks
first and then stops it as an interruption.

The run is a thread worker of the app, not of the screen: leaving the screen does not stop it. Its
state lives in a ProgressDriver (app.progresses, by InferenceService key) that the Reporter updates
from the worker; each change posts ProgressChanged to the screen that shows it, so the detail
repaints when something happens (the countdown, once a second) and never otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from adapters.errors import ConsoleError
from console.safe_text import safe

if TYPE_CHECKING:
    from adapters.kube import InferenceService
    from console.progress_run import Plan, ProgressRun
    from console.services import Services

DEFAULT_STEPS = "10,25,50,100"
DEFAULT_INTERVAL = "1m"
SHOWN_VERDICTS = 3


class ProgressChanged(Message):
    def __init__(self, key: str):
        super().__init__()
        self.key = key


@dataclass
class ProgressDriver:
    """One progress run and what the detail shows of it (written by the worker, read by the UI)."""

    key: str
    plan: Plan
    stop: threading.Event = field(default_factory=threading.Event)
    run: ProgressRun | None = None
    screen: Any = None  # the screen to tell about changes
    running: bool = True
    at: tuple[int, int, int] = (0, 0, 0)  # step index, total, percent
    verdicts: list[str] = field(default_factory=list)
    seconds_left: int | None = None
    last_line: str = ""
    outcome: str | None = None  # once it has ended
    paused: bool = False
    worker: Any = None

    def changed(self) -> None:
        if self.screen is not None:
            self.screen.post_message(ProgressChanged(self.key))

    # -- Reporter (console/progress_run.py), called from the worker ------------------------------
    def line(self, text: str) -> None:
        self.last_line = text
        self.changed()

    def step(self, index: int, total: int, percent: int) -> None:
        self.at, self.seconds_left = (index, total, percent), None
        self.changed()

    def verdict(self, text: str) -> None:
        self.verdicts = (self.verdicts + [text])[-SHOWN_VERDICTS:]
        self.seconds_left = None
        self.changed()

    def countdown(self, seconds_left: float) -> None:
        seconds = int(seconds_left + 0.999)
        if seconds != self.seconds_left:
            self.seconds_left = seconds
            self.changed()

    # -- the keys ---------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.run is not None:
            (self.run.paused.set if self.paused else self.run.paused.clear)()
        self.changed()

    def abort(self) -> None:
        if self.run is not None:
            self.run.aborted.set()

    def interrupt(self, why: str) -> None:
        if self.run is not None:
            self.run.signal_name = self.run.signal_name or why
        self.stop.set()

    # -- what the detail shows --------------------------------------------------------------------
    def text(self) -> Text:
        text = Text()
        index, total, percent = self.at
        text.append("progress: ", style="bold")
        if index:
            text.append(f"step {index} of {total} ({percent}%)", style="bold cyan")
        else:
            text.append("starting", style="cyan")
        text.append("\n")
        if self.outcome is not None:
            text.append(f"  {safe(self.outcome)}\n", style="bold")
        elif self.paused:
            text.append("  paused: space resumes\n", style="bold yellow")
        elif self.seconds_left is not None:
            text.append(f"  next check in {self.seconds_left}s\n")
        if self.verdicts:
            text.append("  checks: ", style="dim")
            text.append(" · ".join(safe(v) for v in self.verdicts) + "\n")
        if self.last_line:
            text.append(f"  {safe(self.last_line)}\n", style="dim")
        return text


def drive(driver: ProgressDriver, services: Services, namespace: str, name: str) -> None:
    """The worker: what console/commands/rollout.py run_progress does around a ProgressRun (the
    Lease, the judge, the notes), with this driver as the Reporter."""
    from console.audit import Identity
    from console.commands.drift import judge, traffic_of
    from console.drift_service import DriftService
    from console.lease import LeaseHolder, LeaseLost, holder_identity
    from console.progress_run import ProgressRun
    from console.rollout_actions import SetCanaryPercent

    plan, actions = driver.plan, services.actions
    try:
        client = services.kube()
        first = SetCanaryPercent(client, namespace, name, plan.steps[0])
        metrics = services.metrics()  # no Prometheus: refused before anything changes
        from console import canary, drift

        settings = services.settings
        service = DriftService(metrics, thresholds=drift.Thresholds.from_settings(settings.drift),
                               health_thresholds=canary.HealthThresholds.from_settings(settings.health))
        kube_identity = first.actor()
        identity = Identity(actions.identity.os_user, actions.identity.ssh_client, kube_identity)
        holder = LeaseHolder(client, namespace, name, holder_identity(identity.os_user, kube_identity))
        if settings.read_only:  # before taking a Lease: the first step would be refused anyway
            actions.prepare(first, plan.reason)
        try:
            holder.acquire(force=False)
        except ConsoleError as error:  # another console's progress holds it: refused, as the CLI's
            actions.refuse(first, None, plan.reason, error)
            raise
    except ConsoleError as error:
        driver.outcome = f"not started: {error.message}"
        driver.running = False
        driver.changed()
        return
    run = ProgressRun(plan, client=client, path=actions, reporter=driver, stop=driver.stop, identity=identity,
                      holder=holder, judge=lambda isvc: judge(service, namespace, name, traffic_of(isvc), plan.window))
    if driver.paused:
        run.paused.set()
    driver.run = run
    try:
        if holder.took_over is not None:
            run.note("took over", f"took over the lease {holder.name} from {holder.took_over.holder}",
                     "ProgressTookOver")
        holder.start_renewing()
        code = run.run()
        driver.outcome = {0: "promoted", 1: "rolled back", 10: "stopped: not enough data"}.get(code, "interrupted")
    except LeaseLost as error:
        driver.outcome = f"stopped: {error.message}"
    except ConsoleError as error:  # Prometheus or the API server went away: it stays where it is
        run.note(f"failed: {error.kind}", f"progress stopped at step {run.step_index}: {error.message}",
                 "ProgressStopped", "Warning")
        driver.outcome = f"stopped: {error.message}"
    finally:
        holder.release()
        driver.running = False
        driver.seconds_left = None
        driver.changed()


def start(app: Any, services: Services, isvc: InferenceService, plan: Plan, screen: Any) -> ProgressDriver:
    driver = ProgressDriver(isvc.key, plan, screen=screen)
    app.progresses[isvc.key] = driver
    driver.worker = app.run_worker(lambda: drive(driver, services, isvc.namespace, isvc.name), thread=True,
                                   group=f"progress {isvc.key}", name=f"progress {isvc.key}", exit_on_error=False)
    return driver


def running(app: Any) -> list[ProgressDriver]:
    return [d for d in getattr(app, "progresses", {}).values() if d.running]


def quit_asking(app: Any) -> None:
    """q and the palette's Quit: with progresses running, ask; confirmed, stop them as an
    interruption (audit row and Event, the InferenceService stays at its step), then quit."""
    drivers = running(app)
    if not drivers:
        app.exit()
        return
    names = ", ".join(f"{d.key} (step {d.at[0]} of {d.at[1]})" for d in drivers)

    async def stop_then_quit() -> None:
        for driver in drivers:
            driver.interrupt("console quit")
        for driver in drivers:
            if driver.worker is not None:
                try:
                    await driver.worker.wait()
                except Exception:  # noqa: BLE001 - reported by the app already; quit all the same
                    pass
        app.exit()

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(stop_then_quit(), group="progress-quit", exclusive=True)

    app.push_screen(AskScreen(f"A progress is running on {names}.",
                              "Quitting stops it where it is (audited as interrupted; the InferenceService "
                              "keeps its current step).", "Stop and quit"), answered)


# ----------------------------------------------------------------------------------------------
# Dialogs

DIALOG_CSS = """
ProgressScreen, AskScreen { align: center middle; }
#progress-box, #ask-box { width: 72; max-width: 95%; height: auto; max-height: 95%;
    border: thick $warning; padding: 0 1; background: $surface; }
#progress-box Input { margin: 0; }
#progress-error { color: $error; height: auto; }
#progress-buttons, #ask-buttons { height: auto; align: right middle; }
#progress-buttons Button, #ask-buttons Button { margin: 0 0 0 2; }
"""


@dataclass(frozen=True)
class Request:
    steps: list[int]
    interval: float
    window: str
    threshold: int
    reason: str


def read_request(steps: str, interval: str, window: str, threshold: str, reason: str) -> Request:
    """The dialog's fields checked as the CLI checks its flags; InvalidInput names the bad one."""
    from adapters.errors import InvalidInput
    from console import progress

    parsed_steps = progress.parse_steps(steps)
    seconds = progress.parse_seconds("interval", interval)
    window = window.strip() or progress.default_window(seconds)
    progress.parse_seconds("window", window)
    parsed_threshold = progress.parse_threshold(threshold.strip() or progress.DEFAULT_THRESHOLD)
    if not reason.strip():
        raise InvalidInput("a reason is required: it goes into the audit journal with every step")
    return Request(parsed_steps, seconds, window, parsed_threshold, reason.strip())


class ProgressScreen(ModalScreen[Request | None]):
    """The plan of a progress; Cancel is focused. A bad value keeps it open and says why."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, split: str):
        super().__init__()
        self.target, self.split = target, split

    def compose(self) -> ComposeResult:
        title = Text()
        title.append("Progressive rollout of ", style="bold")
        title.append(safe(self.target), style="bold")
        title.append(f"\nserved now: {safe(self.split)}", style="dim")
        title.append("\nEach step sets canaryTrafficPercent, waits the interval, then judges the canary's health: "
                     "healthy advances, failing checks roll back, 100 is promoted.", style="dim")
        with Vertical(id="progress-box"):
            yield Static(title, markup=False)
            yield Input(DEFAULT_STEPS, placeholder="steps, e.g. 10,25,50,100", id="progress-steps")
            yield Input(DEFAULT_INTERVAL, placeholder="interval, e.g. 1m", id="progress-interval")
            yield Input("", placeholder="window (default: the interval, at least 1m)", id="progress-window")
            yield Input("", placeholder="threshold: failed checks before a rollback (default 2)",
                        id="progress-threshold")
            yield Input("", placeholder="why? (required; written to the audit journal)", id="progress-reason")
            yield Static("", id="progress-error", markup=False)
            with Horizontal(id="progress-buttons"):
                yield Button("Cancel", id="progress-cancel", variant="default")
                yield Button("Start", id="progress-start", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#progress-cancel", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _start(self) -> None:
        from adapters.errors import InvalidInput

        def value(name: str) -> str:
            return self.query_one(f"#progress-{name}", Input).value

        try:
            request = read_request(value("steps"), value("interval"), value("window"), value("threshold"),
                                   value("reason"))
        except InvalidInput as error:
            self.query_one("#progress-error", Static).update(f"{error.message[:1].upper()}{error.message[1:]}.")
            return
        self.dismiss(request)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "progress-start":
            self._start()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._start()


class AskScreen(ModalScreen[bool]):
    """A yes/no question with Cancel focused."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, detail: str, yes: str):
        super().__init__()
        self.question, self.detail, self.yes = question, detail, yes

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(safe(self.question) + "\n", style="bold")
        text.append(safe(self.detail), style="dim")
        with Vertical(id="ask-box"):
            yield Static(text, markup=False)
            with Horizontal(id="ask-buttons"):
                yield Button("Cancel", id="ask-cancel", variant="default")
                yield Button(self.yes, id="ask-yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#ask-cancel", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "ask-yes")


# ----------------------------------------------------------------------------------------------
# The keys, mixed into RolloutsScreen (screens/rollouts.py)


class ProgressKeys:
    app: Any
    if TYPE_CHECKING:
        @property
        def services(self) -> Services: ...
        def selected(self) -> InferenceService | None: ...
        def set_status(self, text: str, *, error: bool = False) -> None: ...
        def _need_selection(self) -> InferenceService | None: ...
        def _show_detail(self) -> None: ...
        _selected: str | None
        active: bool
        focused: Any

    def progress_of(self, key: str) -> ProgressDriver | None:
        driver: ProgressDriver | None = getattr(self.app, "progresses", {}).get(key)
        if driver is not None:
            driver.screen = self  # a screen built again (context switch) takes over the updates
        return driver

    def _running_progress(self) -> ProgressDriver | None:
        isvc = self._need_selection()
        if isvc is None:
            return None
        driver = self.progress_of(isvc.key)
        if driver is None or not driver.running:
            self.set_status(f"No progress runs on {isvc.key}: g starts one.", error=True)
            return None
        return driver

    def action_progress(self) -> None:
        from textual.actions import SkipAction

        if isinstance(self.focused, Input):  # g is a priority key (the table's g is "first row"), not in the filter
            raise SkipAction()
        isvc = self._need_selection()
        if isvc is None:
            return
        driver = self.progress_of(isvc.key)
        if driver is not None and driver.running:
            self.set_status(f"A progress already runs on {isvc.key}: space pauses it, a aborts it.", error=True)
            return
        from console import rollouts
        from console.progress_run import Plan

        def chosen(request: Request | None) -> None:
            if request is None:
                return
            plan = Plan(isvc.namespace, isvc.name, request.steps, request.interval, request.window,
                        request.threshold, request.reason, isvc.standard_canary)
            start(self.app, self.services, isvc, plan, self)
            self.set_status(f"Progress started on {isvc.key}: " + " -> ".join(f"{s}%" for s in plan.steps)
                            + " -> promote; space pauses, a aborts.")
            self._show_detail()

        self.app.push_screen(ProgressScreen(isvc.key, rollouts.split_text(isvc)), chosen)

    def action_progress_pause(self) -> None:
        driver = self._running_progress()
        if driver is not None:
            driver.toggle_pause()
            self.set_status(f"Progress on {driver.key} " + ("paused: no check and no step until space."
                                                            if driver.paused else "resumed."))

    def action_progress_abort(self) -> None:
        driver = self._running_progress()
        if driver is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and driver.running:
                driver.abort()
                self.set_status(f"Aborting the progress on {driver.key}: rolling back…")

        self.app.push_screen(AskScreen(f"Abort the progress on {driver.key} and roll back?",
                                       "canaryTrafficPercent -> 0: all traffic goes to the previous revision; the "
                                       "new model stays in the spec. Audited with the progress's reason.",
                                       "Abort and roll back"), answered)

    def on_progress_changed(self, message: ProgressChanged) -> None:
        if self.active and message.key == self._selected:
            self._show_detail()
