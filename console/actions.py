"""The one path every mutating action takes (DESIGN section 4), shared by the CLI and the screens.

    refuse when read-only -> validate -> permission check -> plan (read + server-side dry-run)
    -> show the change and ask for a reason (the caller does this; cancel is the default)
    -> apply with a precondition -> audit row -> result

It is split in two halves, prepare() and execute(), because a screen asks its question in a modal
between them. Every attempt writes exactly one audit row: refusals and failures in prepare(),
cancellations in cancel(), and the result in execute().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.errors import (
    Conflict,
    ConsoleError,
    Forbidden,
    InvalidInput,
    ReadOnly,
)
from console.audit import AuditJournal, Identity


@dataclass
class Change:
    """What an action will do, as the person confirming it sees it."""

    kind: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]
    lines: list[str]  # e.g. "canaryTrafficPercent: 20 -> 0"
    notes: list[str] = field(default_factory=list)  # what the action cannot do, caveats
    precondition: str | None = None  # what must still hold, e.g. "resourceVersion 1234"
    dry_run: str | None = None  # the server's dry-run verdict, when there was one
    payload: Any = None  # what apply() sends (e.g. the patch), for display


class Action(Protocol):
    kind: str
    target: str

    def validate(self) -> None: ...

    def check_permission(self) -> None: ...

    def plan(self) -> Change: ...

    def apply(self, change: Change) -> dict[str, Any]: ...


@dataclass
class Outcome:
    kind: str
    target: str
    status: str  # applied | dry-run
    before: dict[str, Any]
    after: dict[str, Any]
    audit_id: int
    message: str
    warnings: list[str] = field(default_factory=list)  # applied, but something after it went wrong


def _outcome_of(error: ConsoleError) -> str:
    if isinstance(error, ReadOnly):
        return "refused: read-only"
    if isinstance(error, Forbidden):
        return "refused: forbidden"
    if isinstance(error, InvalidInput):
        return "refused: invalid"
    if isinstance(error, Conflict):
        return "failed: conflict"
    return f"failed: {error.kind}"


class ActionPath:
    def __init__(self, audit: AuditJournal, *, read_only: bool, identity: Identity | None = None,
                 context: str | None = None):
        self.audit = audit
        self.read_only = read_only
        self.identity = identity or Identity.current()
        self.context = context

    def _identity_for(self, action: Action) -> Identity:
        kube = getattr(action, "actor", None)
        if callable(kube):
            try:
                kube = kube()
            except ConsoleError:
                kube = None
        return Identity(self.identity.os_user, self.identity.ssh_client, kube or self.identity.kube_identity)

    def _record(self, action: Action, outcome: str, reason: str | None, *, before: Any = None,
                after: Any = None, message: str | None = None) -> int:
        return self.audit.record(
            identity=self._identity_for(action), action=action.kind, target=action.target,
            outcome=outcome, reason=reason, before=before, after=after, message=message,
            context=self.context,
        )

    def prepare(self, action: Action, reason: str | None = None) -> Change:
        """Check the action and plan it. Raises (after writing the audit row) when refused."""
        try:
            # Read-only comes first: it must not depend on a backend being reachable.
            if self.read_only:
                raise ReadOnly(
                    f"read-only: {action.kind} on {action.target} refused; the console runs read-only "
                    "(--read-only, MLOPS_CONSOLE_READ_ONLY or the config)"
                )
            action.validate()
            action.check_permission()
            return action.plan()
        except ConsoleError as error:
            self._record(action, _outcome_of(error), reason, message=error.message)
            raise

    def cancel(self, action: Action, change: Change | None, reason: str | None = None) -> int:
        return self._record(action, "cancelled", reason, before=change.before if change else None,
                            after=change.after if change else None, message="cancelled at the confirmation")

    def execute(self, action: Action, change: Change, reason: str | None, *, dry_run: bool = False) -> Outcome:
        """Apply a prepared change and write its audit row."""
        try:
            if not dry_run and not (reason and reason.strip()):
                raise InvalidInput("a reason is required for every change (--reason TEXT)")
            if self.read_only:  # the mode may have changed since prepare()
                raise ReadOnly(f"read-only: {action.kind} on {action.target} refused")
        except ConsoleError as error:
            self._record(action, _outcome_of(error), reason, before=change.before, after=change.after,
                         message=error.message)
            raise
        if dry_run:
            audit_id = self._record(action, "dry-run", reason, before=change.before, after=change.after,
                                    message=change.dry_run or "dry run: nothing changed")
            return Outcome(action.kind, action.target, "dry-run", change.before, change.after, audit_id,
                           "dry run: nothing was changed")
        try:
            after = action.apply(change)
        except ConsoleError as error:
            self._record(action, _outcome_of(error), reason, before=change.before, after=change.after,
                         message=error.message)
            raise
        except Exception as error:  # an unexpected failure is still written down before it surfaces
            self._record(action, "failed: error", reason, before=change.before, after=change.after,
                         message=f"{type(error).__name__}: {error}")
            raise
        audit_id = self._record(action, "applied", reason, before=change.before, after=after)
        outcome = Outcome(action.kind, action.target, "applied", change.before, after, audit_id,
                          f"{action.kind} on {action.target} applied")
        self._announce(action, change, after, reason, self._identity_for(action), outcome)
        return outcome

    def _announce(self, action: Action, change: Change, after: dict[str, Any], reason: str | None,
                  identity: Identity, outcome: Outcome) -> None:
        """Tell the team (e.g. a Kubernetes Event); a failure is a warning, never an undo."""
        announce = getattr(action, "announce", None)
        if not callable(announce):
            return
        try:
            announce(change, after, reason, identity)
        except Exception as error:
            text = error.message if isinstance(error, ConsoleError) else f"{type(error).__name__}: {error}"
            outcome.warnings.append(f"applied, but the Kubernetes Event could not be written: {text}")

    def refuse(self, action: Action, change: Change | None, reason: str | None, error: ConsoleError) -> None:
        """Write down a refusal decided outside the action (e.g. no terminal to confirm on)."""
        self._record(action, _outcome_of(error), reason, before=change.before if change else None,
                     after=change.after if change else None, message=error.message)


def precondition_text(change: Change) -> str:
    """A resourceVersion is a bare number: say what it is."""
    condition = change.precondition or ""
    if condition.isdigit():
        return f"only if unchanged since you looked (resourceVersion {condition})"
    return f"only if {condition}"


def describe(change: Change) -> list[str]:
    """The confirmation text, as the CLI prints it and the modal shows it."""
    lines = [f"{change.kind} on {change.target}:"]
    lines += [f"  {line}" for line in change.lines]
    if change.precondition:
        lines.append(f"  {precondition_text(change)}")
    if change.dry_run:
        lines.append(f"  dry-run: {change.dry_run}")
    lines += [f"  note: {note}" for note in change.notes]
    return lines
