"""The palette's `context NAME` and `namespace NAME` (k9s's :ctx and :ns), completed from the
kubeconfig's contexts and the cluster's namespaces. A namespaced user who may not list namespaces
can still type one: `namespace NAME` is offered as typed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.context_switch import ALL_NAMESPACES


class ContextCommands(Provider):
    async def startup(self) -> None:
        from console.context_switch import kube_contexts

        services = self.app.services  # type: ignore[attr-defined]
        self.current = services.kube_context
        self.namespaces: list[str] = []
        self.contexts = await asyncio.to_thread(kube_contexts, services.settings.kubeconfig)
        # The cluster may be slow or down: its namespaces join the list when they come.
        self._namespaces_task = asyncio.create_task(self._load_namespaces(services))

    async def _load_namespaces(self, services: object) -> None:
        from adapters.errors import ConsoleError
        from console.context_switch import cluster_namespaces

        try:
            self.namespaces = await asyncio.to_thread(lambda: cluster_namespaces(services.kube()))  # type: ignore[attr-defined]
        except ConsoleError:
            pass  # e.g. not allowed to list namespaces: `namespace NAME` is still offered as typed

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        switch = self.app.switch_context  # type: ignore[attr-defined]
        commands: list[tuple[str, str, Callable[[], object]]] = [(f"context {name}", "Switch every screen to this kube context" +
                     (" (the current one)" if name == self.current else ""), partial(switch, context=name))
                    for name in self.contexts]
        commands += [(f"namespace {name}", "Show only this namespace on every screen",
                      partial(switch, namespace=name)) for name in self.namespaces]
        commands.append((f"namespace {ALL_NAMESPACES}", "Show all namespaces (-A)",
                         partial(switch, namespace=ALL_NAMESPACES)))
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        names = set()
        for name, help_text, callback in self._commands():
            names.add(name)
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
        typed = query.strip()
        if typed.startswith("namespace ") and len(typed.split()) == 2 and typed not in names:
            namespace = typed.split()[1]
            yield Hit(1.0, typed, partial(self.app.switch_context, namespace=namespace),  # type: ignore[attr-defined]
                      text=typed, help="Show only this namespace (not listed: you may not list namespaces)")
