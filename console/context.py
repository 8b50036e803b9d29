"""What a command handler (or the app) needs: settings, the audit journal, the action path, output."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from adapters.errors import Cancelled, InvalidInput
from console.config import Settings, kubeconfig_current_context
from console.safe_text import SafeStream, json_text

if TYPE_CHECKING:  # imported on first use: the console's first frame does not wait for them
    from adapters.catalog_backend import CatalogBackend
    from console.actions import Action, ActionPath, Outcome
    from console.audit import AuditJournal


class Context:
    def __init__(self, settings: Settings, *, out: IO[str] | None = None, err: IO[str] | None = None,
                 stdin: IO[str] | None = None, interactive: bool | None = None,
                 flags: dict[str, Any] | None = None):
        self.settings = settings
        self.flags = flags  # as given on the command line: another context's settings are resolved from them
        # Outside text is printed everywhere: nothing a terminal obeys gets through.
        self.out = SafeStream(out or sys.stdout)
        self.err = SafeStream(err or sys.stderr)
        self.stdin = stdin or sys.stdin
        if interactive is None:
            interactive = bool(getattr(self.stdin, "isatty", lambda: False)()) and bool(
                getattr(self.out, "isatty", lambda: False)())
        self.interactive = interactive
        self._closers: list[Callable[[], None]] = []
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, name: str) -> Any:
        """The shared "kube", "metrics" or "pipelines" client (console/clients.py), made on first
        use and closed with the context; raises ConsoleError when it cannot be made."""
        with self._clients_lock:
            if name not in self._clients:
                from console import clients

                client = getattr(clients, f"{name}_client")(self.settings)
                self._clients[name] = client
                if hasattr(client, "close"):
                    self._closers.append(client.close)
            return self._clients[name]

    @cached_property
    def audit(self) -> AuditJournal:
        from console.audit import AuditJournal

        journal = AuditJournal(self.settings.audit)
        self._closers.append(journal.close)
        return journal

    @cached_property
    def kube_context(self) -> str | None:
        """The kube context in use: --context, else the kubeconfig's current-context (read as kubectl
        does, without loading the kubernetes client); None when there is no kubeconfig."""
        return self.settings.context or kubeconfig_current_context(self.settings.kubeconfig)

    @cached_property
    def actions(self) -> ActionPath:
        from console.actions import ActionPath
        from console.audit import Identity

        return ActionPath(self.audit, read_only=self.settings.read_only, identity=Identity.current(),
                          context=self.kube_context)

    @cached_property
    def catalog(self) -> CatalogBackend:
        from console.clients import catalog_backend

        catalog = catalog_backend(self.settings)
        self._closers.append(catalog.close)
        return catalog

    def print_json(self, obj: Any) -> None:
        # terminal-safe already, and its values exact for scripts (text output is redacted)
        self.out.stream.write(json_text(obj, indent=2, default=str) + "\n")

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def run_action(self, action: Action, *, reason: str | None, yes: bool = False, dry_run: bool = False) -> Outcome:
        """The command-line side of the action path: show the change, confirm, apply, report."""
        from console.actions import AuditIncomplete, describe

        path = self.actions
        if not dry_run and not (reason and reason.strip()) and (yes or not self.interactive):
            # Nobody can be asked for one: refuse before any server is asked anything.
            error = InvalidInput("a reason is required for every change: pass --reason TEXT")
            path.refuse(action, None, reason, error)
            raise error
        change = path.prepare(action, reason)
        for line in describe(change):
            self.err.write(line + "\n")
        if not dry_run and not yes:
            if not self.interactive:
                error = InvalidInput("refusing to change anything without a terminal to confirm on; pass --yes")
                path.refuse(action, change, reason, error)
                raise error
            self.err.write("Apply this change? [y/N] ")
            self.err.flush()
            if self.stdin.readline().strip().lower() not in ("y", "yes"):
                note = path.cancel(action, change, reason)
                raise Cancelled(f"{action.kind} on {action.target} cancelled; nothing was changed{note}")
            if not reason:
                self.err.write("Reason for this change: ")
                self.err.flush()
                reason = self.stdin.readline().strip() or None
        try:
            outcome = path.execute(action, change, reason, dry_run=dry_run)
        except AuditIncomplete as error:
            self.warn(error.outcome.warnings)
            raise
        self.err.write(outcome.message + "\n")
        self.warn(outcome.warnings)
        return outcome

    def warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            self.err.write(f"mlops-console: warning: {warning}\n")

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                pass
        self._closers.clear()
