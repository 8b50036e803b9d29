"""The palette's Doctor: what this install gives the console and what it lacks (`mlops-console
doctor` in a window). The checks run in a thread worker; esc closes."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.safe_text import safe
from screens.base import app_services

# Text as well as colour, so the states read the same under NO_COLOR.
_MARKS = {"ok": ("ok  ", "green"), "warn": ("WARN", "bold yellow"), "fail": ("FAIL", "bold red reverse")}


def render_results(results: list) -> Text:
    text = Text()
    for r in results:
        mark, style = _MARKS.get(r.status, (r.status, ""))
        text.append(mark, style=style)
        text.append(f" {safe(r.check)}\n", style="bold")
        text.append(f"     {safe(r.detail)}\n")
        if r.status != "ok" and r.fix:
            text.append(f"     fix: {safe(r.fix)}\n", style="italic")
    return text


class DoctorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="doctor-body"):
            yield Static("Doctor: checking the cluster, Kubeflow Pipelines, Prometheus and the local files...",
                         id="doctor-results", markup=False)
            yield Static("esc closes", id="doctor-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#doctor-body").border_title = "Doctor"
        self._run()

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _run(self) -> None:
        from console.doctor import run_doctor

        results = run_doctor(app_services(self).settings)
        self.app.call_from_thread(self._show, results)

    def _show(self, results: list) -> None:
        self.query_one("#doctor-results", Static).update(render_results(results))
