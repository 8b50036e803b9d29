"""The Textual application: composes the screens with the services they ask through."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.context import Context
from console.services import ThreadBound
from screens.placeholder import NotBuiltScreen

SCREEN_KEYS = (
    ("0", "now", "Now"),
    ("1", "catalog", "Catalog"),
    ("2", "pipelines", "Pipelines"),
    ("3", "rollouts", "Rollouts"),
    ("4", "drift", "Drift"),
)


def _screen_factories() -> dict[str, Callable[[], Screen]]:
    """Each screen module is imported when its screen is built, so start-up pays for one screen."""
    import importlib

    def factory(module_name: str, class_name: str, title: str) -> Callable[[], Screen]:
        def build() -> Screen:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return NotBuiltScreen(title)
            return getattr(module, class_name)()

        return build

    return {mode: factory(f"screens.{mode}", f"{mode.capitalize()}Screen", title) for _, mode, title in SCREEN_KEYS}


class MlopsConsole(App):
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "screens" / "app.tcss")
    TITLE = "mlops-console"
    DEFAULT_MODE = "catalog"  # starting in it costs no stylesheet re-parse (switch_mode does two)
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        *(Binding(key, f"show_screen('{mode}')", title, priority=False) for key, mode, title in SCREEN_KEYS),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command_palette", "Command palette (also ctrl+p)", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, ctx: Context, *, clock: Callable[[], float] = time.time,
                 screen_factories: dict[str, Callable[[], Screen]] | None = None, cursor_blink: bool = True,
                 first_screen: str | None = None):
        if first_screen is not None:
            self.DEFAULT_MODE = first_screen  # the screen the console opens on (--screen)
        self.ctx = ctx
        self.clock = clock
        self.cursor_blink = cursor_blink
        self._factories = screen_factories or _screen_factories()
        self.MODES = dict(self._factories)
        super().__init__()
        self.catalog = ThreadBound("catalog", lambda: _open_catalog(ctx))

    def client(self, name: str) -> Any:
        """The shared "kube", "metrics" or "pipelines" client (made on first use, from a worker:
        making one may read files or fail); raises ConsoleError when it cannot be made."""
        return self.ctx.client(name)

    # -- what the header shows -------------------------------------------------------------
    def connection_summary(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the header, most important first (it is cut at 80 columns)."""
        settings = self.ctx.settings
        parts = []
        if settings.context or settings.kubeconfig:
            kube = settings.context or "current-context"
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for key, mode, title in SCREEN_KEYS:
            yield SystemCommand(f"Go to {title}", f"Open the {title} screen (key {key})",
                                lambda mode=mode: self.action_show_screen(mode))
        yield SystemCommand("Help", "Show the keys of this screen (key ?)", self.action_help)
        yield SystemCommand("Doctor", "Check what the cluster, KFP, Prometheus and the local files give the console",
                            self.action_doctor)
        if not self.read_only:
            yield SystemCommand("Read-only mode", "Refuse every change for the rest of this session",
                                self.action_lock_read_only)
        yield SystemCommand("Quit", "Quit mlops-console (key q)", self.exit)

    def action_doctor(self) -> None:
        from screens.doctor import DoctorScreen

        self.push_screen(DoctorScreen())

    def action_lock_read_only(self) -> None:
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
        self.catalog.close()


def _open_catalog(ctx: Context) -> Any:
    from adapters.catalog import Catalog

    return Catalog(ctx.settings.catalog)


def run_app(ctx: Context, first_screen: str = "now") -> int:
    MlopsConsole(ctx, first_screen=first_screen).run()
    return 0
