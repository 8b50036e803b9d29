"""The Rollouts screen's keys that change things: step, set, promote, roll back, start a canary of
a catalog version, each through the safe action path (screens/action_flow.py), and the jumps to the
Catalog and Drift screens. Mixed into RolloutsScreen (screens/rollouts.py), whose selection,
status line and detail they use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from adapters.errors import ConsoleError
from console import rollouts
from screens.rollouts_modals import PercentScreen, VersionPickerScreen

if TYPE_CHECKING:
    from adapters.catalog import VersionRecord
    from adapters.kube import InferenceService, KubeClient
    from console.actions import Action, Outcome
    from console.canary import Verdict
    from console.services import Services

HEALTH_DEBOUNCE = 0.3  # after a change, the health of the changed row is asked for again this soon


class RolloutActions:
    """What it needs of the screen, declared for the type checker."""

    app: Any
    if TYPE_CHECKING:
        active: bool
        _selected: str | None
        _catalog: dict[str, tuple[str, str] | str]
        _last_result: dict[str, str]
        _verdicts: dict[str, Verdict]

        @property
        def services(self) -> Services: ...
        def selected(self) -> InferenceService | None: ...
        def set_status(self, text: str, *, error: bool = False) -> None: ...
        def schedule(self, name: str, delay: float, callback: Callable[[], object]) -> None: ...
        def start_action(self, action: Action | Callable[[], Action],
                         on_done: Callable[[Outcome], None] | None = None) -> None: ...
        def _request_health(self) -> None: ...
        def _start_watch(self) -> None: ...
        def _show_detail(self) -> None: ...

    # -- actions ------------------------------------------------------------------------------
    def _need_selection(self) -> InferenceService | None:
        isvc = self.selected()
        if isvc is None:
            self.set_status("Select an InferenceService first.", error=True)
        return isvc

    def _act(self, isvc: InferenceService, build: Callable[[KubeClient], Action]) -> None:
        self.set_status(f"Checking the change on {isvc.key}…")
        verdict = self._verdicts.get(isvc.key)
        warning = (f"this canary is FAILING its health checks ({verdict.text}): more traffic sends more "
                   "requests to a failing revision" if verdict is not None and verdict.status == "failing" else None)

        def build_with_warning(client: KubeClient) -> Action:
            action = build(client)
            if warning and hasattr(action, "health_warning"):
                action.health_warning = warning
            return action

        self._build_action(isvc.key, build_with_warning)

    @work(thread=True, group="rollouts-client", exit_on_error=False)
    def _build_action(self, key: str, build: Callable[[KubeClient], Action]) -> None:
        """The kube client may need building (files, TLS): never on the UI thread."""
        try:
            action = build(self.services.kube())
        except ConsoleError as error:
            self.app.call_from_thread(self.set_status, f"Kubernetes: {error.message}", error=True)
            return
        self.app.call_from_thread(self.start_action, action, lambda outcome: self._after_action(key, outcome))

    def _report_error(self, action: Action, error: ConsoleError) -> None:  # ActionFlowMixin hook
        super()._report_error(action, error)  # type: ignore[misc]
        self.set_status(f"{action.kind} on {action.target}: {error.message}", error=True)

    def _after_action(self, key: str, outcome: Outcome) -> None:
        lines = ", ".join(f"{k}: {outcome.before.get(k)} -> {v}" for k, v in outcome.after.items()
                          if k != "resourceVersion" and outcome.before.get(k) != v)
        result = f"{outcome.kind} applied{(' (' + lines + ')') if lines else ''}; the split follows as KServe acts"
        self._last_result[key] = result
        self.set_status(result)
        if key == self._selected:
            self._show_detail()
            self.schedule("health", HEALTH_DEBOUNCE, self._request_health)

    def action_refresh(self) -> None:
        """List again now (a new list + watch) and ask Prometheus again."""
        self._refreshing = True
        self.set_status("Listing again…")
        if self.active:
            self._start_watch()
            self.schedule("health", HEALTH_DEBOUNCE, self._request_health)

    def action_step(self, direction: int) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import StepCanary

        step = self.services.settings.rollout.step
        self._act(isvc, lambda client: StepCanary(client, isvc.namespace, isvc.name, direction, step))

    def action_set_percent(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import SetCanaryPercent

        def chosen(value: str | None) -> None:
            if value is not None:
                self._act(isvc, lambda client: SetCanaryPercent(client, isvc.namespace, isvc.name, value))

        self.app.push_screen(PercentScreen(isvc.key, isvc.canary_traffic_percent, rollouts.split_text(isvc)), chosen)

    def action_promote(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import Promote

        self._act(isvc, lambda client: Promote(client, isvc.namespace, isvc.name))

    def action_rollback(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import Rollback

        self._act(isvc, lambda client: Rollback(client, isvc.namespace, isvc.name))

    def action_start_canary(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        found = self._catalog.get(isvc.storage_uri or "")
        model = found[0] if isinstance(found, tuple) else isvc.name
        self.set_status(f"Loading the catalog versions of {model}…")
        self._load_versions(isvc, model)

    @work(thread=True, exclusive=True, group="rollouts-versions", exit_on_error=False)
    def _load_versions(self, isvc: InferenceService, model: str) -> None:
        try:
            versions = self.services.catalog.list_versions(model, sort="created_at", descending=True, limit=200)
        except ConsoleError as error:
            self.app.call_from_thread(self.set_status, f"Catalog: {error.message}", error=True)
            return
        self.app.call_from_thread(self._pick_version, isvc, model, versions)

    def _pick_version(self, isvc: InferenceService, model: str, versions: list[VersionRecord]) -> None:
        if not versions:
            self.set_status(f"The catalog has no versions of {model!r}: nothing to start a canary of.", error=True)
            return
        self.set_status("")
        from console.rollout_actions import StartCanary

        def chosen(result: tuple[VersionRecord, str] | None) -> None:
            if result is None:
                return
            record, percent = result
            self._act(isvc, lambda client: StartCanary(client, isvc.namespace, isvc.name,
                                                       record.artifact_uri or "", percent))

        step = self.services.settings.rollout.step
        self.app.push_screen(VersionPickerScreen(isvc.key, model, versions, isvc.storage_uri, step), chosen)

    def action_open_catalog(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        found = self._catalog.get(isvc.storage_uri or "")
        if not isinstance(found, tuple):
            self.set_status(f"{isvc.storage_uri or 'no storageUri'}: "
                            f"{found or 'still looking it up in the catalog'}", error=True)
            return
        if hasattr(self.app, "show_catalog_version"):
            self.app.show_catalog_version(found[0], found[1])
        else:
            self.app.action_show_screen("catalog")

    def action_open_drift(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        self.app.selected_isvc = (isvc.namespace, isvc.name)
        self.app.action_show_screen("drift")
