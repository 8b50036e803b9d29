"""The model catalog (key 1): models, their versions, every detail, compare, and aliases.

Large catalogs are paged and filtered in SQLite: a table holds one window of rows and asks for
the next page when the cursor nears its end, so 100k versions never reach the DataTable at once.
A page that comes again (r, or after an alias change) updates only the cells that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from adapters.errors import ConsoleError
from console.catalog_view import format_number, model_cells, version_cells
from console.safe_text import literal, safe
from screens.base import ConsoleScreen
from screens.list_table import ListTable
from screens.repaint import set_border_title

if TYPE_CHECKING:
    from adapters.catalog_records import ModelSummary, VersionRecord

__all__ = ["CatalogScreen", "render_detail"]

FIRST_PAGE_WAIT = 0.3  # seconds the first frame waits for the first page (a slow catalog: rows follow)
PAGE = 60  # two screens of rows at 120x35; more load as the cursor nears the end
LOAD_MORE_MARGIN = 15
VERSION_COLUMNS = (("version", "ver", 5), ("created", "created", 10), ("metric", "metric", 8),
                   ("aliases", "aliases", 12), ("author", "author", 16))


@dataclass
class Page:
    """One page of rows as the catalog answered it, for the filter generation that asked."""

    rows: list[Any]
    total: int
    offset: int
    generation: int


class CatalogScreen(ConsoleScreen):
    screen_title = "Catalog"
    BINDINGS = [
        # shown in the key bar here (the base binds it unshown); priority: the focus must move
        # before the keys typed right after "/" are routed
        Binding("slash", "filter", "Filter", priority=True),
        # the base's action; listed here because the help shows a screen's own BINDINGS
        Binding("escape", "leave_filter", "Clear and leave the filter", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("c", "compare", "Compare"),
        Binding("a", "set_alias", "Alias"),
        Binding("r", "reload", "Refresh"),
        Binding("p", "show_run", "Pipeline run"),
    ]
    HELP_NOTES = ("Enter on a model moves to its versions; tab moves between panels. "
                  "c marks a version, c on a second one compares them. a sets or moves an alias. "
                  "p opens the pipeline run that produced the version. With an MLflow registry "
                  "configured, r syncs from it first; aliases of its models are set there.")

    class ModelsPage(Message):
        def __init__(self, page: Page, append: bool):
            super().__init__()
            self.page, self.append = page, append
            self.shown = False  # the first page is shown by on_mount, before its message arrives

    class VersionsPage(Message):
        def __init__(self, model: str, page: Page, append: bool, metric: str | None):
            super().__init__()
            self.model, self.page, self.append, self.metric = model, page, append, metric

    class Failed(Message):
        def __init__(self, panel: str, error: str):
            super().__init__()
            self.panel, self.error = panel, error

    def __init__(self) -> None:
        super().__init__()
        self.model: str | None = None
        self.sort_keys: list[str] = ["created_at", "version"]
        self.sort_index = 0
        self.metric: str | None = None
        self.marked: tuple[str, str] | None = None
        self._models_generation = 0
        self.shown_models_generation = 0  # the filter generation on screen (benchmarks wait on it)
        self._versions_generation = 0
        self.shown_versions_generation = 0
        self._models_total = 0
        self._versions_total = 0
        self._versions: dict[str, VersionRecord] = {}
        self._version_columns: tuple[str, str] | None = None  # (model, metric) the columns are laid out for
        self._detail: object = None  # what the detail panel shows (a record, or a message)
        self._loading_more = False
        self._pending: tuple[str, str | None] | None = None  # a jump from another screen
        self._first_page: Worker[CatalogScreen.ModelsPage | None]

    def compose(self) -> ComposeResult:
        # The first page is read (on the catalog's thread) while Textual composes and lays out
        # the screen; on_mount waits for it.
        self._first_page = self.load_models()
        yield self.header()
        with Horizontal(id="catalog-body"):
            with Vertical(id="models-pane"):
                yield self.filter_input("/ filter models", id="catalog-filter")
                models = ListTable(id="models", cursor_type="row", zebra_stripes=False)
                models.border_title = "Models"
                yield models
            with Vertical(id="versions-pane"):
                versions = ListTable(id="versions", cursor_type="row")
                versions.border_title = "Versions"
                yield versions
                with VerticalScroll(id="detail"):
                    yield Static("Select a model.", id="detail-body", markup=False)
        yield self.status_line(id="catalog-status")
        yield self.key_bar()

    async def on_mount(self) -> None:  # type: ignore[override]  # Textual awaits it, and runs the base's too
        self.query_one("#detail").border_title = "Detail"
        models = self.models_table
        # Fixed widths: the table never re-measures as pages arrive, and frames are reproducible.
        models.add_column("model", key="model", width=18)
        models.add_column("vers", key="versions", width=4)
        models.add_column("aliases", key="aliases", width=40)
        models.focus()
        # The first frame shows the first page (one full render, not an empty one and then the
        # rows) unless the catalog is slow: then the rows follow. Browsing opens the catalog
        # without sqlite-utils (adapters/sqlite_lib.py).
        with contextlib.suppress(asyncio.TimeoutError, WorkerFailed, WorkerCancelled):
            page = await asyncio.wait_for(asyncio.shield(self._first_page.wait()), FIRST_PAGE_WAIT)
            if page is not None:
                self.on_catalog_screen_models_page(page)

    @property
    def models_table(self) -> ListTable:
        return self.query_one("#models", ListTable)

    @property
    def versions_table(self) -> ListTable:
        return self.query_one("#versions", ListTable)

    def focus_after_filter(self) -> DataTable[Any]:
        return self.models_table

    def filter_changed(self, text: str) -> None:
        self.load_models()

    # -- loading ---------------------------------------------------------------------------
    def load_models(self, *, append: bool = False) -> Worker[ModelsPage | None]:
        if not append:
            self._models_generation += 1
        offset = self.models_table.row_count if append else 0
        return self._fetch_models(self.filter_text, offset, self._models_generation, append)

    @work(thread=True, group="models", exclusive=True, exit_on_error=False)
    def _fetch_models(self, filter_text: str, offset: int, generation: int, append: bool) -> ModelsPage | None:
        catalog = self.services.catalog
        try:
            text = filter_text or None
            total = catalog.count_models(text) if not append else self._models_total
            rows = catalog.list_models(text, offset=offset, limit=PAGE)
        except ConsoleError as error:
            self.post_message(self.Failed("models", error.message))
            return None
        message = self.ModelsPage(Page(rows, total, offset, generation), append)
        self.post_message(message)
        return message

    def load_versions(self, model: str, *, append: bool = False) -> None:
        if not append:
            self._versions_generation += 1
        offset = self.versions_table.row_count if append else 0
        sort = self.sort_keys[self.sort_index]
        self._fetch_versions(model, sort, offset, self._versions_generation, append)

    @work(thread=True, group="versions", exclusive=True, exit_on_error=False)
    def _fetch_versions(self, model: str, sort: str, offset: int, generation: int, append: bool) -> None:
        catalog = self.services.catalog
        try:
            metric = None
            if not append:
                names = catalog.metric_names(model)
                self.sort_keys = ["created_at", "version"] + [f"metric:{name}" for name in names]
                metric = names[0] if names else None
                if sort not in self.sort_keys:
                    sort = "created_at"
            total = catalog.count_versions(model) if not append else self._versions_total
            rows = catalog.list_versions(model, sort=sort, descending=True, offset=offset, limit=PAGE)
        except ConsoleError as error:
            self.post_message(self.Failed("versions", error.message))
            return
        self.post_message(self.VersionsPage(model, Page(rows, total, offset, generation), append, metric))

    # -- rendering -------------------------------------------------------------------------
    def _model_row(self, summary: ModelSummary) -> tuple[str, tuple[Text, ...]]:
        model, versions, aliases = model_cells(summary)
        return summary.model, (literal(model), literal(versions), literal(aliases, "cyan"))

    def _version_row(self, record: VersionRecord) -> tuple[str, tuple[Text, ...]]:
        version, created, metric, aliases, author = version_cells(
            record, self.metric, self.marked == (record.model, record.version))
        return record.version, (literal(version, "strike dim" if record.deleted_at else ""), literal(created),
                                literal(metric), literal(aliases, "cyan"), literal(author))

    def on_catalog_screen_models_page(self, message: ModelsPage) -> None:
        page = message.page
        if page.generation != self._models_generation or message.shown:
            return  # an older filter's answer, or the first page that on_mount has shown
        message.shown = True
        self._loading_more = False
        self._models_total = page.total
        self.shown_models_generation = page.generation
        table = self.models_table
        with self.app.batch_update():
            if message.append:
                for summary in page.rows:
                    table.add_row(*self._model_row(summary)[1], key=summary.model)
            else:
                table.show_rows([self._model_row(summary) for summary in page.rows])
        set_border_title(table, literal(f"Models {table.row_count}/{page.total}"
                                        + (f" · filter: {self.filter_text}" if self.filter_text else "")))
        if message.append:
            return
        if page.rows:
            names = [row.model for row in page.rows]
            wanted = self._pending[0] if self._pending else self._selected_model()
            first = wanted if wanted is not None and wanted in names else names[0]
            row = table.get_row_index(first)
            if table.cursor_row != row:
                table.move_cursor(row=row)
            self._select_model(first)
        else:
            self.model = None
            self.versions_table.clear(columns=True)
            self._version_columns = None
            self._show_detail(Text(f"No model matches {self.filter_text!r}." if self.filter_text else
                                   "The catalog is empty. Import versions with: mlops-console catalog import FILE"))

    def on_catalog_screen_versions_page(self, message: VersionsPage) -> None:
        page = message.page
        if page.generation != self._versions_generation or message.model != self.model:
            return
        self._loading_more = False
        self._versions_total = page.total
        self.shown_versions_generation = page.generation
        table = self.versions_table
        with self.app.batch_update():
            if message.append:
                for record in page.rows:
                    self._versions[record.version] = record
                    table.add_row(*self._version_row(record)[1], key=record.version)
            else:
                self.metric = message.metric
                self._lay_out_version_columns(message.model)
                self._versions = {record.version: record for record in page.rows}
                table.show_rows([self._version_row(record) for record in page.rows])
        sort = self.sort_keys[self.sort_index] if self.sort_index < len(self.sort_keys) else "created_at"
        set_border_title(table, literal(f"Versions of {self.model} {table.row_count}/{page.total} · "
                                        f"sort: {sort.replace('metric:', '')}"))
        if message.append:
            return
        if page.rows:
            if table.cursor_row != 0:
                table.move_cursor(row=0)
            self._show_detail(page.rows[0])
        self._apply_pending(message.model)

    def _lay_out_version_columns(self, model: str) -> None:
        """The columns for this model's metric; laid out again only when it changes."""
        if self._version_columns == (model, self.metric or ""):
            return
        table = self.versions_table
        table.clear(columns=True)
        for key, label, width in VERSION_COLUMNS:
            if key == "metric":
                label = (self.metric or "metric").rsplit(".", 1)[-1]
            table.add_column(literal(label), key=key, width=width)
        self._version_columns = (model, self.metric or "")

    def on_catalog_screen_failed(self, message: Failed) -> None:
        self._loading_more = False
        self._show_detail(Text(safe(f"Catalog unavailable: {message.error}", multiline=True), style="bold red"))
        self.set_status(f"{message.panel}: {message.error}", error=True)

    def _select_model(self, model: str) -> None:
        if model == self.model:
            return
        self.model = model
        self._show_detail(Text("Loading…", style="dim"))
        self.load_versions(model)

    def _show_detail(self, what: VersionRecord | Text) -> None:
        if what == self._detail:
            return  # the same version (or message) again writes nothing
        self._detail = what
        body = self.query_one("#detail-body", Static)
        body.update(what if isinstance(what, Text) else render_detail(what))

    def _selected_model(self) -> str | None:
        table = self.models_table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value

    # -- events ----------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#models")
    def _model_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._select_model(event.row_key.value)
        table = event.data_table
        if (not self._loading_more and table.row_count < self._models_total
                and event.cursor_row >= table.row_count - LOAD_MORE_MARGIN):
            self._loading_more = True
            self.load_models(append=True)

    @on(DataTable.RowSelected, "#models")
    def _model_selected(self, event: DataTable.RowSelected) -> None:
        self.versions_table.focus()

    @on(DataTable.RowHighlighted, "#versions")
    def _version_highlighted(self, event: DataTable.RowHighlighted) -> None:
        record = self._versions.get(event.row_key.value or "")
        if record is not None:
            self._show_detail(record)
        table = event.data_table
        if (self.model and not self._loading_more and table.row_count < self._versions_total
                and event.cursor_row >= table.row_count - LOAD_MORE_MARGIN):
            self._loading_more = True
            self.load_versions(self.model, append=True)

    # -- actions ---------------------------------------------------------------------------
    def show_version(self, model: str, version: str | None) -> None:
        """Select `model` (filtered to it) and, when given, show `version` in the detail panel."""
        self._pending = (model, version)
        self.model = None  # so the versions of `model` load again and the pending jump completes
        filter_input = self.query_one("#catalog-filter", Input)
        if filter_input.value == model:
            self.load_models()
        else:
            filter_input.value = model  # Input.Changed reloads the models

    def _apply_pending(self, model: str) -> None:
        if not self._pending or self._pending[0] != model:
            return
        version = self._pending[1]
        self._pending = None
        if version is None:
            return
        table = self.versions_table
        if version in self._versions:
            table.move_cursor(row=table.get_row_index(version))
            table.focus()
            self._show_detail(self._versions[version])
        else:
            self._fetch_one(model, version)

    @work(thread=True, group="versions-one", exclusive=True, exit_on_error=False)
    def _fetch_one(self, model: str, version: str) -> None:
        try:
            record = self.services.catalog.get_version(model, version)
        except ConsoleError as error:
            self.post_message(self.Failed("detail", error.message))
            return
        self.app.call_from_thread(self._show_detail, record)

    def action_reload(self) -> None:
        settings = self.services.settings
        if settings.mlflow.url and not settings.read_only:
            self.set_status(f"Syncing from MLflow at {settings.mlflow.url}…")
            self._sync()
            return
        if settings.mlflow.url:
            self.set_status("Read-only: reloaded the catalog without syncing from MLflow.")
        self._reload()

    def _reload(self) -> None:
        """Ask for the models and the selected model's versions again (what changed is redrawn)."""
        self.load_models()
        if self.model:
            self.load_versions(self.model)

    @work(thread=True, group="sync", exclusive=True, exit_on_error=False)
    def _sync(self) -> None:
        from console.catalog_sync import summary, sync_and_record

        try:
            client = self.services.mlflow()
            result = sync_and_record(self.services, self.services.catalog, client)
        except ConsoleError as error:  # the screen keeps what it showed
            self.app.call_from_thread(self.set_status, f"Sync failed: {error.message}", error=True)
            return
        self.app.call_from_thread(self.set_status, f"Synced from MLflow at {client.url}: {summary(result)}")
        self.app.call_from_thread(self._reload)

    def action_cycle_sort(self) -> None:
        if not self.model:
            return
        self.sort_index = (self.sort_index + 1) % len(self.sort_keys)
        self.load_versions(self.model)

    def selected_version(self) -> VersionRecord | None:
        table = self.versions_table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self._versions.get(key or "")

    def action_compare(self) -> None:
        record = self.selected_version()
        if record is None:
            self.set_status("Select a version to compare.")
            return
        if self.marked is None or self.marked == (record.model, record.version):
            self.marked = None if self.marked else (record.model, record.version)
            self._refresh_marks()
            self.set_status(f"Marked {record.model}:{record.version}; press c on another version to compare."
                            if self.marked else "Compare mark cleared.")
            return
        first = self.marked
        self.marked = None
        self._refresh_marks()
        self.set_status("")
        self._open_compare(first, (record.model, record.version))

    def _refresh_marks(self) -> None:
        self.versions_table.show_rows([self._version_row(record) for record in self._versions.values()])

    @work(thread=True, group="compare", exclusive=True, exit_on_error=False)
    def _open_compare(self, first: tuple[str, str], second: tuple[str, str]) -> None:
        try:
            a = self.services.catalog.get_version(*first)
            b = self.services.catalog.get_version(*second)
        except ConsoleError as error:
            self.post_message(self.Failed("compare", error.message))
            return
        from screens.catalog_modals import CompareScreen  # the modals load with their first use

        self.app.call_from_thread(self.app.push_screen, CompareScreen(a, b))

    def action_show_run(self) -> None:
        """Jump to the pipeline run that produced the selected version."""
        record = self.selected_version()
        if record is None or not record.run_id:
            self.set_status("This version records no pipeline run.")
            return
        self.app.selected_run_id = record.run_id
        self.app.action_show_screen("pipelines")

    def action_set_alias(self) -> None:
        record = self.selected_version()
        if record is None:
            self.set_status("Select a version first.")
            return
        from console.catalog_actions import SetAlias, registry_for
        from screens.catalog_modals import AliasNameScreen

        def chosen(alias: str | None) -> None:
            if alias:
                action = SetAlias(self.services.catalog, record.model, alias, record.version,
                                  registry=registry_for(self.services.settings))
                self.start_action(action, on_done=lambda outcome: self._reload())

        self.app.push_screen(AliasNameScreen(record.model, record.version, record.aliases), chosen)


def render_detail(record: VersionRecord) -> Text:
    """Every piece of a version's metadata, as literal text."""
    text = Text()

    def head(title: str) -> None:
        text.append(f"\n{title}\n", style="bold underline")

    def row(label: str, value: Any) -> None:
        if value in (None, "", [], {}):
            return
        text.append(f"  {safe(label):<14}", style="dim")
        text.append(safe(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
        text.append("\n")

    text.append(safe(record.model), style="bold")
    text.append(f" : {safe(record.version)}\n")
    if record.aliases:
        text.append("  aliases  ", style="dim")
        text.append(safe(", ".join(record.aliases)), style="bold cyan")
        text.append("\n")
    if record.description:
        text.append(f"  {safe(record.description, multiline=True)}\n")
    row("tags", ", ".join(record.tags or []))
    row("author", record.author)
    row("created", record.created_at)
    row("source", f"MLflow {record.source}" if record.origin == "mlflow" else f"import {record.source or '-'}")
    if record.deleted_at:
        text.append(f"  deleted from the registry {record.deleted_at}; kept here as history\n", style="bold red")
    head("Lineage")
    row("pipeline run", record.run_id)
    data = record.training_data or {}
    row("training data", data.get("uri"))
    row("data hash", data.get("hash"))
    row("data rows", format_number(data.get("rows")) if data.get("rows") is not None else None)
    row("artifact", record.artifact_uri)
    row("framework", " ".join(x for x in (record.framework, record.framework_version) if x))
    if record.environment:
        head("Training environment")
        for key, value in record.environment.items():
            row(key, value if isinstance(value, str) else json.dumps(value))
    if record.metrics:
        head("Metrics")
        for name, value in record.flat_metrics().items():
            row(name, format_number(value))
    if record.hyperparameters:
        head("Hyperparameters")
        for name, value in record.hyperparameters.items():
            row(name, value if isinstance(value, str) else json.dumps(value))
    if record.reference_histograms:
        head("Reference histograms (training data)")
        for feature, histogram in record.reference_histograms.items():
            counts = histogram.get("counts") or []
            row(feature, f"{len(counts)} bins, {sum(counts)} rows")
    return text
