"""The Catalog screen's modals: the alias to set (the change itself is confirmed afterwards), and
two versions compared side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from console.catalog_actions import ALIAS_PATTERN
from console.catalog_view import compare_rows
from console.safe_text import literal, safe
from screens.list_table import ListTable

if TYPE_CHECKING:
    from adapters.catalog_records import VersionRecord

VERDICT_STYLES = {"better": "bold green", "worse": "bold red", "changed": "yellow", "": ""}


class AliasNameScreen(ModalScreen[str | None]):
    """Asks which alias to point at a version; the change itself is confirmed afterwards.
    The field starts empty: no alias is chosen for the user, least of all production."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, model: str, version: str, current: list[str]):
        super().__init__()
        self.model, self.version, self.current = model, version, current

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Set or move an alias to ")
        text.append(safe(f"{self.model}:{self.version}"), style="bold")
        if self.current:
            text.append(f"\nThis version has: {safe(', '.join(self.current))}", style="dim")
        with Vertical(id="alias-box"):
            yield Static(text, markup=False)
            yield Input(placeholder="alias, e.g. production, champion, staging", id="alias-name")
            yield Static("", id="alias-error", markup=False)
            yield Static("enter continues to the confirmation · esc cancels", markup=False, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#alias-name", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        alias = event.value.strip()
        if not ALIAS_PATTERN.match(alias):
            problem = ("Type an alias name." if not alias else
                       f"{alias!r} is not valid: lower-case letters, digits, '-' or '_', starting with a letter.")
            self.query_one("#alias-error", Static).update(Text(problem, style="red"))
            return
        self.dismiss(alias)


class CompareScreen(ModalScreen[None]):
    """Two versions side by side: metrics and hyperparameters diffed, better and worse coloured."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, a: VersionRecord, b: VersionRecord):
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-box"):
            table = ListTable(id="compare", cursor_type="row", zebra_stripes=True)
            table.border_title = literal(f"{self.a.model}:{self.a.version} vs {self.b.model}:{self.b.version}")
            yield table
            yield Static("✓ better in the second version (green) · ✗ worse (red) · changed (yellow) · esc closes",
                         markup=False, classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#compare", DataTable)
        # Fixed widths that fit 80 columns: long values (URIs) end in "…" instead of pushing the
        # second version off screen; the detail panel shows them in full.
        inner = self.app.size.width * 95 // 100 - 3  # #compare-box is 95% wide, less border and scrollbar
        value_width = max(12, (inner - 18 - 10 - 4 * 2) // 2)  # field, change, and 1 cell padding each side
        table.add_column("", key="field", width=18)
        table.add_column(literal(f"{self.a.model}:{self.a.version}"), key="a", width=value_width)
        table.add_column(literal(f"{self.b.model}:{self.b.version}"), key="b", width=value_width)
        table.add_column("change", key="delta", width=10)
        for row in compare_rows(self.a, self.b):
            style = VERDICT_STYLES[row.verdict]
            table.add_row(literal(row.label), literal(row.a), literal(row.b, style), literal(row.delta, style))
        table.focus()
