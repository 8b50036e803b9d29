"""The Textual application: composes the screens with the services they ask through."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import WorkerFailed

from console.context import Context
from console.safe_text import safe
from console.screen_registry import SCREENS
from console.services import Services, ThreadBound
from screens.no_color import readable_filters

if TYPE_CHECKING:
    from adapters.catalog_backend import CatalogBackend

log = logging.getLogger("mlops-console")



class MlopsConsole(App):
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "screens" / "app.tcss")
    TITLE = "mlops-console"
    DEFAULT_MODE = "catalog"  # starting in it costs no stylesheet re-parse (switch_mode does two)
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {lambda: _context_commands()}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        *(Binding(entry.key, f"show_screen('{entry.mode}')", entry.title, priority=False) for entry in SCREENS),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command_palette", "Command palette (also ctrl+p)", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, ctx: Context, *, clock: Callable[[], float] = time.time,
                 screen_factories: dict[str, Callable[[], Screen]] | None = None, cursor_blink: bool = True,
                 first_screen: str | None = None):
        if first_screen is not None:
            self.DEFAULT_MODE = first_screen  # type: ignore[misc] # the screen the console opens on (--screen)
        self.ctx = ctx
        self.clock = clock
        self.cursor_blink = cursor_blink
        self._factories = dict(screen_factories or {entry.mode: entry.build for entry in SCREENS})
        self.MODES = dict(self._factories)  # type: ignore[misc] # Textual reads the instance's
        super().__init__()
        self._retired: list[Context] = []  # contexts switched away from: closed when the app ends
        self._locked_read_only = False
        self.catalog: CatalogBackend = ThreadBound("catalog", lambda: _open_catalog(ctx))
        self.services = Services(ctx, self.catalog)
        self.crash_line: str | None = None  # set by a bug; run_app prints it once the terminal is back
        self.progresses: dict[str, Any] = {}  # key -> screens/rollouts_progress.py ProgressDriver

    def on_ready(self) -> None:
        from console import startup

        startup.collect_as_usual()  # the first frame is drawn (console/startup.py)

    # -- what the header shows -------------------------------------------------------------
    def connection_summary(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the header, most important first (it is cut at 80 columns)."""
        settings = self.ctx.settings
        parts = []
        kube = self.ctx.kube_context  # resolved from the kubeconfig: never the words "current-context"
        if kube:
            if settings.namespace and not settings.all_namespaces:
                kube += f"/{settings.namespace}"
            parts.append(("kube", kube))
        parts.append(("catalog", str(settings.catalog)))
        return parts

    @property
    def read_only(self) -> bool:
        return self.ctx.settings.read_only

    def show_catalog_version(self, model: str, version: str | None = None) -> None:
        """Jump to a model (and version) on the Catalog screen, from anywhere."""
        self.action_show_screen("catalog")
        self.call_after_refresh(lambda: self.screen.show_version(model, version)
                                if hasattr(self.screen, "show_version") else None)

    def get_line_filters(self):
        # NO_COLOR: Textual's greyscale drew red text near black on dark panels; keep it readable.
        filters = super().get_line_filters()
        return readable_filters(list(filters)) if self.no_color else filters

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Snapshot tests switch blinking off so that every frame renders the same.
        if not self.cursor_blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def action_show_screen(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification shows its text literally: names and errors come from outside, so
        markup is never parsed, control characters are made visible and credentials redacted."""
        super().notify(safe(message, multiline=True), title=safe(title), severity=severity,
                       timeout=timeout, markup=False)

    def action_help_quit(self) -> None:  # ctrl+c: Textual's own hint is markup
        self.notify("Press q to quit the app", title="Do you want to quit?")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for entry in SCREENS:
            yield SystemCommand(f"Go to {entry.title}", f"Open the {entry.title} screen (key {entry.key})",
                                lambda mode=entry.mode: self.action_show_screen(mode))
        yield SystemCommand("Help", "Show the keys of this screen (key ?)", self.action_help)
        yield SystemCommand("Audit journal", "Recent changes: who, why, before -> after (mlops-console audit list)",
                            self.action_audit)
        yield SystemCommand("Doctor", "Check what the cluster, KFP, Prometheus and the local files give the console",
                            self.action_doctor)
        if not self.read_only:
            yield SystemCommand("Read-only mode", "Refuse every change for the rest of this session",
                                self.action_lock_read_only)
        yield SystemCommand("Dismiss notifications", "Clear every notification, including errors that stay",
                            self.clear_notifications)
        yield SystemCommand("Quit", "Quit mlops-console (key q)", self.action_quit)

    def action_quit(self) -> None:  # type: ignore[override]
        """Asks first while a progress runs (screens/rollouts_progress.py)."""
        from screens.rollouts_progress import quit_asking

        quit_asking(self)

    def action_audit(self) -> None:
        from screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_doctor(self) -> None:
        from screens.doctor import DoctorScreen

        self.push_screen(DoctorScreen())

    # -- switching cluster and namespace (the palette's `context NAME`, `namespace NAME`) --------
    def switch_context(self, *, context: str | None = None, namespace: str | None = None,
                       then: Callable[[], object] | None = None) -> None:
        """Every screen follows: they are built again on the new context's settings, so no data of
        the previous context ever shows under the new one's name."""
        from adapters.errors import ConsoleError
        from console.context_switch import switched

        try:
            settings, flags = switched(self.ctx.settings, self.ctx.flags, context=context, namespace=namespace)
        except ConsoleError as error:
            self.notify(error.message, severity="error")
            return
        if self._locked_read_only:
            settings.read_only = True
        old, self.ctx = self.ctx, Context(settings, flags=flags)
        self._retired.append(old)  # its clients may still be in use by a worker that is ending
        if settings.catalog != old.settings.catalog:
            self.catalog.close()
            new_ctx = self.ctx
            self.catalog = ThreadBound("catalog", lambda: _open_catalog(new_ctx))
        self.services = Services(self.ctx, self.catalog)
        self.run_worker(self._rebuild_screens(then), group="switch-context", exclusive=True)
        where = self.ctx.kube_context or "the kubeconfig's current context"
        scope = "all namespaces" if settings.all_namespaces or not settings.namespace else f"namespace {settings.namespace}"
        self.notify(f"Now on {where}, {scope}" + (" (read-only)" if settings.read_only else ""))

    async def _rebuild_screens(self, then: Callable[[], object] | None = None) -> None:
        current = self.current_mode
        self.add_mode(_SWITCHING, _SwitchingScreen)
        await self.switch_mode(_SWITCHING)  # every screen's stack goes, with any dialog on it
        for mode in [m for m in self._screen_stacks if m != _SWITCHING]:
            await self.remove_mode(mode)
            self.add_mode(mode, self._factories[mode])
        await self.switch_mode(current)
        await self.remove_mode(_SWITCHING)
        if then is not None:
            then()

    def action_lock_read_only(self) -> None:
        self._locked_read_only = True
        self.ctx.settings.read_only = True
        if "actions" in self.ctx.__dict__:
            self.ctx.actions.read_only = True
        self.refresh_headers()
        self.notify("Read-only: every change is refused until restart.")

    def refresh_headers(self) -> None:
        from screens.header import StatusHeader

        for header in self.screen.query(StatusHeader):
            header.refresh_status()

    def on_unmount(self) -> None:
        for driver in self.progresses.values():  # the terminal went away: an interruption
            driver.interrupt("console closed")
        self.catalog.close()
        for ctx in self._retired:
            ctx.close()

    # -- unexpected errors -------------------------------------------------------------------
    def report_failure(self, cause: BaseException) -> None:
        """A worker failed with a bug: log it, say so until dismissed, stay up."""
        from screens.action_flow import STICKY

        log.error("worker failed", exc_info=(type(cause), cause, cause.__traceback__))
        self.notify(f"{type(cause).__name__}: the operation failed unexpectedly ({_log_hint()})",
                    title="internal error", severity="error", timeout=STICKY, markup=False)

    def _handle_exception(self, error: Exception) -> None:
        """A failed worker is reported and the console stays up; any other bug ends it with one
        line naming the log, never a traceback with locals on the terminal."""
        if isinstance(error, WorkerFailed) and self.is_running:
            self.report_failure(error.error)
            return
        cause = error.error if isinstance(error, WorkerFailed) else error
        log.error("unexpected error", exc_info=(type(cause), cause, cause.__traceback__))
        self._return_code = 1
        if self._exception is None:  # run_test() re-raises it, so tests still see the bug
            self._exception = error
            self._exception_event.set()
        self.crash_line = f"mlops-console: internal error: {type(cause).__name__} ({_log_hint()})"
        self._close_messages_no_wait()  # as Textual's own fatal error does, minus the traceback


_SWITCHING = "switching"


class _SwitchingScreen(Screen):
    """Shown for the moment the screens are built again on a new context."""

    def compose(self) -> Any:
        from textual.widgets import Static

        yield Static("Switching…", markup=False)


def _context_commands() -> Any:
    from screens.context_commands import ContextCommands

    return ContextCommands


def _log_hint() -> str:
    from console import paths

    return f"details in {paths.log_file()}"


def _open_catalog(ctx: Context) -> Any:
    from console.clients import catalog_backend

    return catalog_backend(ctx.settings)


def run_app(ctx: Context, first_screen: str = "now", *, app: MlopsConsole | None = None,
            headless: bool = False) -> int:
    """Run the console; a crash exits non-zero (the app has said where the log is)."""
    import sys

    app = app or MlopsConsole(ctx, first_screen=first_screen)
    app.run(headless=headless)
    if app.crash_line:
        sys.stderr.write(app.crash_line + "\n")
    return app.return_code or 0
