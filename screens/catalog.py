"""The model catalog (key 1): models, their versions, every detail, compare, and aliases.

Large catalogs are paged and filtered in SQLite: a table holds one window of rows and asks for
the next page when the cursor nears its end, so 100k versions never reach the DataTable at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from adapters.errors import ConsoleError
from console.catalog_actions import ALIAS_PATTERN, SetAlias, registry_for
from console.safe_text import literal, safe
from screens.action_flow import ActionFlowMixin
from screens.filter_input import FilterInput
from screens.list_table import ListTable
from screens.header import StatusHeader
from screens.keybar import KeyBar

PAGE = 60  # two screens of rows at 120x35; more load as the cursor nears the end
LOAD_MORE_MARGIN = 15
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "mape", "latency", "perplexity", "wer", "cer")


def flat_metrics(metrics: dict[str, Any] | None) -> dict[str, float]:
    """{"test": {"auc": 0.9}, "f1": 0.8} -> {"test.auc": 0.9, "f1": 0.8}"""
    flat: dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, dict):
            for inner, number in value.items():
                flat[f"{name}.{inner}"] = number
        else:
            flat[name] = value
    return flat


ALIAS_ORDER = ("production", "canary", "champion", "staging")


def alias_rank(alias: str) -> tuple[int, str]:
    """The aliases an on-call engineer looks for first come first."""
    return (ALIAS_ORDER.index(alias) if alias in ALIAS_ORDER else len(ALIAS_ORDER), alias)


def lower_is_better(metric: str) -> bool:
    leaf = metric.rsplit(".", 1)[-1].lower()
    return any(word in leaf for word in LOWER_IS_BETTER)


def short_date(value: str | None) -> str:
    return (value or "")[:10]


def format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


@dataclass
class Page:
    rows: list[Any]
    total: int
    offset: int
    generation: int


class CatalogScreen(ActionFlowMixin, Screen):
    screen_title = "Catalog"
    BINDINGS = [
        # priority: the focus must move before the keys typed right after "/" are routed
        Binding("slash", "filter", "Filter", priority=True),
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
        self.filter_text = ""
        self.model: str | None = None
        self.sort_keys: list[str] = ["created_at", "version"]
        self.sort_index = 0
        self.metric: str | None = None
        self.marked: tuple[str, str] | None = None
        self._models_generation = 0
        self.shown_models_generation = 0  # the filter generation on screen (benchmarks wait on it)
        self._versions_generation = 0
        self._models_total = 0
        self._versions_total = 0
        self._versions: dict[str, Any] = {}
        self._loading_more = False
        self._pending: tuple[str, str | None] | None = None  # a jump from another screen

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.screen_title)
        with Horizontal(id="catalog-body"):
            with Vertical(id="models-pane"):
                yield FilterInput(placeholder="/ filter models", id="catalog-filter")
                models = ListTable(id="models", cursor_type="row", zebra_stripes=False)
                models.border_title = "Models"
                yield models
            with Vertical(id="versions-pane"):
                versions = ListTable(id="versions", cursor_type="row")
                versions.border_title = "Versions"
                yield versions
                with VerticalScroll(id="detail"):
                    yield Static("Select a model.", id="detail-body", markup=False)
        yield Static("", id="catalog-status", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#detail").border_title = "Detail"
        models = self.query_one("#models", DataTable)
        # Fixed widths: the table never re-measures as pages arrive, and frames are reproducible.
        models.add_column("model", key="model", width=18)
        models.add_column("vers", key="versions", width=4)
        models.add_column("aliases", key="aliases", width=40)
        models.focus()
        # At once: browsing opens the catalog without sqlite-utils (adapters/sqlite_lib.py), so the
        # first page is read while the screen is laid out and the first frame can show it.
        self.load_models()

    # -- loading ---------------------------------------------------------------------------
    def load_models(self, *, append: bool = False) -> None:
        if not append:
            self._models_generation += 1
        offset = self.query_one("#models", DataTable).row_count if append else 0
        self._fetch_models(self.filter_text, offset, self._models_generation, append)

    @work(thread=True, group="models", exclusive=True, exit_on_error=False)
    def _fetch_models(self, filter_text: str, offset: int, generation: int, append: bool) -> None:
        catalog = self.app.catalog
        try:
            text = filter_text or None
            total = catalog.count_models(text) if not append else self._models_total
            rows = catalog.list_models(text, offset=offset, limit=PAGE)
        except ConsoleError as error:
            self.post_message(self.Failed("models", error.message))
            return
        self.post_message(self.ModelsPage(Page(rows, total, offset, generation), append))

    def load_versions(self, model: str, *, append: bool = False) -> None:
        if not append:
            self._versions_generation += 1
        offset = self.query_one("#versions", DataTable).row_count if append else 0
        sort = self.sort_keys[self.sort_index]
        self._fetch_versions(model, sort, offset, self._versions_generation, append)

    @work(thread=True, group="versions", exclusive=True, exit_on_error=False)
    def _fetch_versions(self, model: str, sort: str, offset: int, generation: int, append: bool) -> None:
        catalog = self.app.catalog
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
    def on_catalog_screen_models_page(self, message: ModelsPage) -> None:
        page = message.page
        if page.generation != self._models_generation:
            return  # an older filter's answer
        self._loading_more = False
        self._models_total = page.total
        self.shown_models_generation = page.generation
        table = self.query_one("#models", DataTable)
        with self.app.batch_update():
            if not message.append:
                table.clear()
            for summary in page.rows:
                aliases = ", ".join(f"{alias}={version}" for alias, version in
                                    sorted(summary.aliases.items(), key=lambda item: alias_rank(item[0])))
                table.add_row(literal(summary.model), literal(summary.versions), literal(aliases, "cyan"),
                              key=summary.model)
        shown = table.row_count
        table.border_title = literal(f"Models {shown}/{page.total}"
                                     + (f" · filter: {self.filter_text}" if self.filter_text else ""))
        if not message.append:
            if page.rows:
                wanted = self._pending[0] if self._pending else None
                first = next((row.model for row in page.rows if row.model == wanted), page.rows[0].model)
                table.move_cursor(row=table.get_row_index(first))
                self._select_model(first)
            else:
                self.model = None
                self.query_one("#versions", DataTable).clear(columns=True)
                self.query_one("#detail-body", Static).update(
                    Text(f"No model matches {self.filter_text!r}." if self.filter_text else "The catalog is empty. "
                         "Import versions with: mlops-console catalog import FILE"))

    def on_catalog_screen_versions_page(self, message: VersionsPage) -> None:
        page = message.page
        if page.generation != self._versions_generation or message.model != self.model:
            return
        self._loading_more = False
        self._versions_total = page.total
        table = self.query_one("#versions", DataTable)
        with self.app.batch_update():
            if not message.append:
                self.metric = message.metric
                table.clear(columns=True)
                self._versions.clear()
                table.add_column("ver", key="version", width=5)
                table.add_column("created", key="created", width=10)
                table.add_column(literal((self.metric or "metric").rsplit(".", 1)[-1]), key="metric", width=8)
                table.add_column("aliases", key="aliases", width=12)
                table.add_column("author", key="author", width=16)
            for record in page.rows:
                self._versions[record.version] = record
                metric = flat_metrics(record.metrics).get(self.metric) if self.metric else None
                mark = "● " if self.marked == (record.model, record.version) else ""
                table.add_row(literal(mark + record.version, "strike dim" if record.deleted_at else ""),
                              literal(short_date(record.created_at)),
                              literal(format_number(metric)),
                              literal(", ".join(sorted(record.aliases, key=alias_rank)), "cyan"),
                              literal(record.author), key=record.version)
        sort = self.sort_keys[self.sort_index] if self.sort_index < len(self.sort_keys) else "created_at"
        table.border_title = literal(f"Versions of {self.model} {table.row_count}/{page.total} · "
                                     f"sort: {sort.replace('metric:', '')}")
        if not message.append and page.rows:
            table.move_cursor(row=0)
            self._show_detail(page.rows[0])
        if not message.append:
            self._apply_pending(message.model)

    def on_catalog_screen_failed(self, message: Failed) -> None:
        self._loading_more = False
        self.query_one("#detail-body", Static).update(
            Text(safe(f"Catalog unavailable: {message.error}", multiline=True), style="bold red"))
        self.set_status(f"{message.panel}: {message.error}", error=True)

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.query_one("#catalog-status", Static).update(Text(safe(text), style="red" if error else "dim"))

    def _select_model(self, model: str) -> None:
        if model == self.model:
            return
        self.model = model
        self.query_one("#detail-body", Static).update(Text("Loading…", style="dim"))
        self.load_versions(model)

    def _show_detail(self, record: Any) -> None:
        self.query_one("#detail-body", Static).update(render_detail(record))

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
        self.query_one("#versions", DataTable).focus()

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

    @on(Input.Changed, "#catalog-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.load_models()

    @on(Input.Submitted, "#catalog-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#catalog-filter", FilterInput).close(self.query_one("#models", DataTable))

    # -- actions ---------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one("#catalog-filter", FilterInput).open()

    def action_leave_filter(self) -> None:
        self.query_one("#catalog-filter", FilterInput).clear_and_close(self.query_one("#models", DataTable))

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
        table = self.query_one("#versions", DataTable)
        if version in self._versions:
            table.move_cursor(row=table.get_row_index(version))
            table.focus()
            self._show_detail(self._versions[version])
        else:
            self._fetch_one(model, version)

    @work(thread=True, group="versions-one", exclusive=True, exit_on_error=False)
    def _fetch_one(self, model: str, version: str) -> None:
        try:
            record = self.app.catalog.get_version(model, version)
        except ConsoleError as error:
            self.post_message(self.Failed("detail", error.message))
            return
        self.app.call_from_thread(self._show_detail, record)

    def action_reload(self) -> None:
        settings = self.app.services.settings
        if settings.mlflow.url and not settings.read_only:
            self.set_status(f"Syncing from MLflow at {settings.mlflow.url}…")
            self._sync()
            return
        if settings.mlflow.url:
            self.set_status("Read-only: reloaded the catalog without syncing from MLflow.")
        self.model = None
        self.load_models()

    @work(thread=True, group="sync", exclusive=True, exit_on_error=False)
    def _sync(self) -> None:
        from console.catalog_sync import summary, sync_and_record

        try:
            client = self.app.services.mlflow()
            result = sync_and_record(self.app.services, self.app.catalog, client)
        except ConsoleError as error:  # the screen keeps what it showed
            self.app.call_from_thread(self.set_status, f"Sync failed: {error.message}", error=True)
            return
        self.app.call_from_thread(self.set_status, f"Synced from MLflow at {client.url}: {summary(result)}")
        self.app.call_from_thread(self._after_alias, "")

    def action_cycle_sort(self) -> None:
        if not self.model:
            return
        self.sort_index = (self.sort_index + 1) % len(self.sort_keys)
        self.load_versions(self.model)

    def selected_version(self) -> Any | None:
        table = self.query_one("#versions", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
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
        table = self.query_one("#versions", DataTable)
        for version in self._versions:
            mark = "● " if self.marked == (self.model, version) else ""
            try:
                table.update_cell(version, "version", literal(mark + version))
            except Exception:  # the row scrolled out of the loaded window
                pass

    @work(thread=True, group="compare", exclusive=True, exit_on_error=False)
    def _open_compare(self, first: tuple[str, str], second: tuple[str, str]) -> None:
        try:
            a = self.app.catalog.get_version(*first)
            b = self.app.catalog.get_version(*second)
        except ConsoleError as error:
            self.post_message(self.Failed("compare", error.message))
            return
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

        def chosen(alias: str | None) -> None:
            if alias:
                action = SetAlias(self.app.catalog, record.model, alias, record.version,
                                  registry=registry_for(self.app.services.settings))
                self.start_action(action, on_done=lambda outcome: self._after_alias(record.model))

        self.app.push_screen(AliasNameScreen(record.model, record.version, record.aliases), chosen)

    def _after_alias(self, model: str) -> None:
        self.model = None
        self.load_models()


def render_detail(record: Any) -> Text:
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
    origin = getattr(record, "origin", "import")
    row("source", f"MLflow {record.source}" if origin == "mlflow" else f"import {record.source or '-'}")
    if getattr(record, "deleted_at", None):
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
        for name, value in flat_metrics(record.metrics).items():
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

    def __init__(self, a: Any, b: Any):
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
        for label, a, b, delta in compare_rows(self.a, self.b):
            table.add_row(literal(label), literal(a), b, delta)
        table.focus()


def compare_rows(a: Any, b: Any) -> list[tuple[str, str, Text, Text]]:
    rows: list[tuple[str, str, Text, Text]] = []
    metrics_a, metrics_b = flat_metrics(a.metrics), flat_metrics(b.metrics)
    for name in sorted(set(metrics_a) | set(metrics_b)):
        va, vb = metrics_a.get(name), metrics_b.get(name)
        style, delta = "", ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            diff = vb - va
            delta = f"{diff:+.4g}"
            if diff:
                better = diff < 0 if lower_is_better(name) else diff > 0
                style = "bold green" if better else "bold red"
                delta += " ✓" if better else " ✗"  # not by colour alone (NO_COLOR)
        rows.append((f"metric {name}", format_number(va), literal(format_number(vb), style), literal(delta, style)))
    params_a, params_b = a.hyperparameters or {}, b.hyperparameters or {}
    for name in sorted(set(params_a) | set(params_b)):
        va, vb = params_a.get(name), params_b.get(name)
        changed = va != vb
        rows.append((f"param {name}", json.dumps(va), literal(json.dumps(vb), "yellow" if changed else ""),
                     literal("changed" if changed else "", "yellow")))
    for label, getter in (("framework", lambda r: f"{r.framework or ''} {r.framework_version or ''}".strip()),
                          ("training rows", lambda r: (r.training_data or {}).get("rows")),
                          ("training data", lambda r: (r.training_data or {}).get("uri")),
                          ("created", lambda r: r.created_at), ("author", lambda r: r.author)):
        va, vb = getter(a), getter(b)
        changed = va != vb
        rows.append((label, format_number(va), literal(format_number(vb), "yellow" if changed else ""),
                     literal("changed" if changed else "", "yellow")))
    return rows
