"""From a run to the catalog versions it produced (m on the Pipelines screen), with the modal that
asks which one when there are several."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.safe_text import safe
from screens.pipelines_view import ProducedVersion


class VersionPickerScreen(ModalScreen[ProducedVersion | None]):
    """Which of the versions a run produced to open in the catalog."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    VersionPickerScreen { align: center middle; }
    VersionPickerScreen #picker-box { width: 60; max-width: 95%; height: auto; border: round $accent;
                                      background: $surface; padding: 0 1; }
    VersionPickerScreen #picker { height: auto; max-height: 12; }
    """

    def __init__(self, versions: list[ProducedVersion]):
        super().__init__()
        self.versions = versions

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("This run produced several versions; open which one?", markup=False)
            yield OptionList(*[Option(Text(safe(f"{v.model} v{v.version}")), id=str(i))
                               for i, v in enumerate(self.versions)], id="picker")
            yield Static("enter opens · esc cancels", markup=False, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#picker", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.versions[int(event.option.id or 0)])


def open_produced_version(app: Any, run_id: str, versions: list[ProducedVersion]) -> None:
    """Open the version a run produced in the catalog (asking which, when it produced several);
    app.selected_run_id names the run, so the catalog's p comes back to it."""

    def open_version(version: ProducedVersion | None) -> None:
        if version is None:
            return
        app.selected_run_id = run_id
        if hasattr(app, "show_catalog_version"):
            app.show_catalog_version(version.model, version.version)
        else:
            app.action_show_screen("catalog")

    if len(versions) == 1:
        open_version(versions[0])
    else:
        app.push_screen(VersionPickerScreen(versions), open_version)
