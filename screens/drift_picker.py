"""The Drift screen's model picker: the models that export metrics, filtered as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from console.drift_view import Model
from console.safe_text import safe


class ModelPickerScreen(ModalScreen[tuple[str, str] | None]):
    """Pick namespace/name from the models that export metrics, or type one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ModelPickerScreen { align: center middle; }
    #picker-box { width: 60; max-width: 95%; height: auto; max-height: 90%; border: round $accent;
                  background: $surface; padding: 0 1; }
    #picker-filter { margin: 0 0 1 0; }
    #picker-list { height: auto; max-height: 14; }
    """

    def __init__(self, models: list[Model], current: tuple[str, str] | None):
        super().__init__()
        self.models = models
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("Model (namespace/name): type to filter, enter opens, esc cancels",
                         markup=False, classes="hint")
            yield Input(placeholder="namespace/name", id="picker-filter")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#picker-filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        for ns, name, revs in self.models:
            key = f"{ns}/{name}"
            if text and text.lower() not in key.lower():
                continue
            label = Text(safe(key))
            label.append(f"  {len(revs)} revision{'s' if len(revs) != 1 else ''}", style="dim")
            options.add_option(Option(label, id=key))
        if options.option_count:
            index = 0
            for i in range(options.option_count):
                if self.current and options.get_option_at_index(i).id == f"{self.current[0]}/{self.current[1]}":
                    index = i
            options.highlighted = index

    @on(Input.Changed, "#picker-filter")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one("#picker-list", OptionList)
        typed = event.value.strip()
        if options.highlighted is not None and options.option_count:
            self._choose(options.get_option_at_index(options.highlighted).id or "")
        elif "/" in typed:
            self._choose(typed)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    def key_down(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_up()

    def _choose(self, key: str) -> None:
        ns, _, name = key.partition("/")
        if ns and name:
            self.dismiss((ns, name))

    def action_cancel(self) -> None:
        self.dismiss(None)
