"""Why it is failing, one key away: pushed screens showing an object's Events (e), its pods' logs
(l) and its YAML (y). Presentation only: every call goes through a thread worker to the kube
client the app's services give, and everything from outside is shown literally (safe()).

The log view streams in a thread worker and keeps at most `[logs] max_lines` lines (the Log
widget drops the oldest); c switches container, n the pod, p shows the previous (crashed)
instance, f turns follow on and off. Switching stops the running stream at once (its socket is
shut) before the next one starts, so keys are never blocked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.cells import chop_cells
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Log, Static

from adapters.errors import ConsoleError
from console.safe_text import literal, safe
from screens.keybar import KeyBar

VIEW_CSS = """
EventsView, LogView, YamlView { background: $surface; }
.view-title { height: 1; background: $primary 30%; padding: 0 1; text-style: bold; text-wrap: nowrap;
              text-overflow: ellipsis; }
.view-status { height: auto; max-height: 3; color: $text-muted; padding: 0 1; }
.view-status.error { color: $error; }
#events-table, #log-lines, #yaml-scroll { height: 1fr; }
#event-detail { height: auto; max-height: 5; padding: 0 1; border-top: solid $primary 50%; }
"""
MESSAGE_CELL = 60  # characters of a message in its cell; the whole of it is under the table
FLUSH_EVERY = 0.1  # s: lines reach the screen in batches, so a fast log cannot flood the event loop
FLUSH_LINES = 500


class _View(Screen[None]):
    """Title, body, status line; esc goes back."""

    DEFAULT_CSS = VIEW_CSS
    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, title: str):
        super().__init__()
        self.view_title = title

    def title_widget(self) -> Static:
        return Static(literal(self.view_title), classes="view-title", markup=False)

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one(".view-status", Static)
        status.update(Text(safe(text)))
        status.set_class(error, "error")

    def action_close(self) -> None:
        self.dismiss(None)

    def fail(self, error: Exception) -> None:
        message = error.message if isinstance(error, ConsoleError) else f"{type(error).__name__}: {error}"
        self.set_status(message, error=True)


class EventsView(_View):
    """Events of an object and of its pods, newest first (as `rollout events`). At 80 columns the
    count and the start of the message come before the (long) object name, and the highlighted
    event's object and whole message are shown wrapped under the table."""

    BINDINGS = [*_View.BINDINGS, Binding("r", "reload", "Reload")]

    def __init__(self, title: str, load: Callable[[], list[Any]]):
        super().__init__(title)
        self.load = load

    def compose(self) -> ComposeResult:
        yield self.title_widget()
        table: DataTable[Any] = DataTable(id="events-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="event-detail", markup=False)
        yield Static("loading events…", classes="view-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE", "OBJECT")
        self.events: list[Any] = []
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self._fetch()

    @work(thread=True, exclusive=True, group="events")
    def _fetch(self) -> None:
        try:
            events = self.load()
        except Exception as error:  # noqa: BLE001 - shown on the screen
            self.app.call_from_thread(self.fail, error)
            return
        self.app.call_from_thread(self._show, events)

    def _show(self, events: list[Any]) -> None:
        from console.diagnostics import age

        table = self.query_one(DataTable)
        table.clear()
        self.events = events
        for e in events:
            style = "bold red" if e.type == "Warning" else ""
            message = e.message if len(e.message) <= MESSAGE_CELL else e.message[:MESSAGE_CELL - 1] + "…"
            table.add_row(literal(age(e.last_seen)), literal(e.type, style), literal(e.reason, style),
                          literal(e.count or 1), literal(message.replace("\n", " ")), literal(e.object))
        self._show_event(0)
        warnings = sum(1 for e in events if e.type == "Warning")
        self.set_status(f"{len(events)} events ({warnings} warnings), newest first · r reload · esc back"
                        if events else "no events (they expire after an hour) · r reload · esc back")


    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_event(event.cursor_row)

    def _show_event(self, index: int) -> None:
        detail = self.query_one("#event-detail", Static)
        if not 0 <= index < len(self.events):
            detail.update("")
            return
        e = self.events[index]
        detail.update(Text.assemble((f"{safe(e.object)}: ", "bold"), safe(e.message, multiline=True)))


class YamlView(_View):
    """The object as `kubectl get -o yaml` shows it (managedFields left out, as kubectl does)."""

    def __init__(self, title: str, load: Callable[[], dict[str, Any]]):
        super().__init__(title)
        self.load = load

    def compose(self) -> ComposeResult:
        yield self.title_widget()
        with VerticalScroll(id="yaml-scroll"):
            yield Static("", id="yaml-body", markup=False)
        yield Static("loading…", classes="view-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#yaml-scroll").focus()
        self._fetch()

    @work(thread=True, exclusive=True, group="yaml")
    def _fetch(self) -> None:
        from console.diagnostics import to_yaml

        try:
            obj = self.load()
            obj.get("metadata", {}).pop("managedFields", None)
            text = to_yaml(obj)
        except Exception as error:  # noqa: BLE001 - shown on the screen
            self.app.call_from_thread(self.fail, error)
            return
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        self.query_one("#yaml-body", Static).update(Text(safe(text, multiline=True)))
        self.set_status(f"{text.count(chr(10))} lines · arrows/page keys scroll · esc back")


@dataclass
class LogTarget:
    """What the log view reads: resolve() (run in a worker) -> (kube client, namespace, pods)."""

    title: str
    resolve: Callable[[], tuple[Any, str, list[Any]]]
    container: str = "kserve-container"


class LogView(_View):
    """A pod's log. Long lines wrap to the view's width (w turns it off: then left/right scroll);
    the title names the pod and container shown, the key bar the keys."""

    BINDINGS = [*_View.BINDINGS,
                Binding("c", "next_container", "Container"),
                Binding("n", "next_pod", "Pod"),
                Binding("p", "toggle_previous", "Previous"),
                Binding("f", "toggle_follow", "Follow"),
                Binding("w", "toggle_wrap", "Wrap")]

    def __init__(self, target: LogTarget, max_lines: int = 10_000, *, follow: bool = False):
        super().__init__(target.title)
        self.target = target
        self.max_lines = max_lines
        self.container = target.container
        self.follow = follow
        self.previous = False
        self.pod_index = 0
        self.client: Any = None
        self.namespace = ""
        self.pods: list[Any] = []
        self.received = 0
        self.wrap = True
        self._kept: deque[str] = deque(maxlen=max_lines)  # the lines as read (re-wrapped on w)
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield self.title_widget()
        yield Log(id="log-lines", max_lines=self.max_lines, auto_scroll=True)
        yield Static("loading…", classes="view-status", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self._resolve()

    def on_unmount(self) -> None:
        self._stop.set()

    @property
    def pod(self) -> Any | None:
        return self.pods[self.pod_index] if self.pods else None

    @property
    def shown_lines(self) -> int:
        return len(self._kept)

    def _wrapped(self, lines: Iterable[str]) -> list[str]:
        """Each line cut to the view's width, continuations indented two cells."""
        width = self.query_one(Log).scrollable_content_region.width
        if not self.wrap or width < 20:
            return list(lines)
        out: list[str] = []
        for line in lines:
            first, *rest = chop_cells(line, width) or [""]
            out.append(first)
            if rest:
                out.extend("  " + part for part in chop_cells("".join(rest), width - 2))
        return out

    @work(thread=True, exclusive=True, group="log-resolve")
    def _resolve(self) -> None:
        try:
            client, namespace, pods = self.target.resolve()
        except Exception as error:  # noqa: BLE001 - shown on the screen
            self.app.call_from_thread(self.fail, error)
            return
        self.app.call_from_thread(self._resolved, client, namespace, pods)

    def _resolved(self, client: Any, namespace: str, pods: list[Any]) -> None:
        self.client, self.namespace, self.pods = client, namespace, pods
        pod = self.pod
        if pod is not None and self.container not in pod.containers + pod.init_containers and pod.containers:
            self.container = pod.containers[0]
        self._restart()

    def _restart(self) -> None:
        """Stop the stream being read (its socket is shut) and read the current choice anew."""
        self._stop.set()
        self._stop = threading.Event()
        self.received = 0
        self._kept.clear()
        self.query_one(Log).clear()
        if self.pod is None:
            self.set_status("no pods", error=True)
            return
        self._describe("reading")
        self._read(self.pod.name, self.container, self.previous, self.follow, self._stop)

    def _describe(self, doing: str) -> None:
        mode = ("previous instance" if self.previous else "current") + (", following" if self.follow else "")
        dropped = max(0, self.received - self.shown_lines)
        cap = f" · oldest {dropped} dropped (max {self.max_lines})" if dropped else ""
        pod = self.pod.name if self.pod is not None else "-"
        title = literal(f"{self.view_title} · {self.container}{' (previous)' if self.previous else ''} · pod {pod}")
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one(".view-title", Static).update(title)
        self.set_status(f"{doing}: [{self.container}] {mode} · {self.received} lines{cap}"
                        + ("" if self.wrap else " · not wrapped: left/right scroll"))

    @work(thread=True, exclusive=True, group="log-read")
    def _read(self, pod: str, container: str, previous: bool, follow: bool, stop: threading.Event) -> None:
        batch: list[str] = []
        last = time.monotonic()
        try:
            for line in self.client.stream_log(self.namespace, pod, container=container, previous=previous,
                                               follow=follow, tail=None if follow else self.max_lines,
                                               stop_event=stop):
                batch.append(safe(line))
                if len(batch) >= FLUSH_LINES or time.monotonic() - last >= FLUSH_EVERY:
                    self.app.call_from_thread(self._append, batch, stop)
                    batch, last = [], time.monotonic()
        except Exception as error:  # noqa: BLE001 - shown on the screen
            if not stop.is_set():
                self.app.call_from_thread(self._append, batch, stop)
                self.app.call_from_thread(self.fail, error)
            return
        self.app.call_from_thread(self._append, batch, stop, True)

    def _append(self, lines: list[str], stop: threading.Event, done: bool = False) -> None:
        if stop is not self._stop:  # a stream that was switched away from
            return
        if lines:
            self.received += len(lines)
            self._kept.extend(lines)
            self.query_one(Log).write_lines(self._wrapped(lines))
        self._describe("ended" if done else "following" if self.follow else "reading")

    def action_next_container(self) -> None:
        pod = self.pod
        if pod is None:
            return
        names = pod.containers + pod.init_containers
        self.container = names[(names.index(self.container) + 1) % len(names)] if self.container in names \
            else names[0]
        self._restart()

    def action_next_pod(self) -> None:
        if len(self.pods) > 1:
            self.pod_index = (self.pod_index + 1) % len(self.pods)
            self._restart()

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self._restart()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._restart()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        log = self.query_one(Log)
        log.clear()
        log.write_lines(self._wrapped(self._kept))
        self._describe("shown")


# -- what the screens open (their actions stay one line each) -----------------------------------

def isvc_events(services: Any, namespace: str, name: str) -> EventsView:
    return EventsView(f"Events · {namespace}/{name} and its pods",
                      lambda: services.kube().inference_service_events(namespace, name))


def isvc_yaml(services: Any, namespace: str, name: str) -> YamlView:
    return YamlView(f"YAML · inferenceservice {namespace}/{name}", lambda: services.kube().get_raw(namespace, name))


def isvc_logs(services: Any, namespace: str, name: str) -> LogView:
    """The latest revision's predictor pods, container kserve-container (as `rollout logs`)."""
    from console.diagnostics import pods_for_logs

    def resolve() -> tuple[Any, str, list[Any]]:
        client = services.kube()
        return client, namespace, pods_for_logs(client, namespace, name)[1]

    return LogView(LogTarget(f"Logs · {namespace}/{name}", resolve), services.settings.logs.max_lines)


def task_logs(services: Any, run: Any, task: Any) -> LogView:
    """A pipeline task's pod, container main: in its experiment's namespace (where multi-user KFP
    runs it), else the configured KFP namespace, else kubeflow."""

    def resolve() -> tuple[Any, str, list[Any]]:
        namespace = services.settings.kfp.namespace or "kubeflow"
        if run.experiment_id:
            namespace = services.pipelines().get_experiment(run.experiment_id).namespace or namespace
        client = services.kube()
        return client, namespace, [client.get_pod(namespace, task.pod_name)]

    return LogView(LogTarget(f"Logs · task {task.display_name} of run {run.display_name}",
                             resolve, container="main"), services.settings.logs.max_lines)
