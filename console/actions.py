"""The one path every mutating action takes (DESIGN section 4), shared by the CLI and the screens.

    refuse when read-only -> validate -> permission check -> plan (read + server-side dry-run)
    -> show the change and ask for a reason (the caller does this; cancel is the default)
    -> intent row (refuse if it cannot be written) -> apply with a precondition -> result row
    -> announce (e.g. a Kubernetes Event) -> result

It is split in two halves, prepare() and execute(), because a screen asks its question in a modal
between them. Refusals and failures in prepare() and cancellations in cancel() write one row; a
change writes its intent before anything is sent and its result (pointing at the intent) after.
A journal that cannot record a refusal or a cancellation does not hide it: the message says both.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.errors import (
    Conflict,
    ConsoleError,
    Forbidden,
    InvalidInput,
    ReadOnly,
    StateConflict,
)
from console.audit import INTENT, AuditJournal, Identity

log = logging.getLogger(__name__)
RESULT_ATTEMPTS = 3  # a result row that cannot be written is retried this often (each waits for the lock)
RETRY_PAUSE = 0.5


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
    """Optional: actor() -> str | None names who acts on the backend (kube identity, KFP user);
    announce(change, after, reason, identity) tells the team after the result row is written."""

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
    audit_id: int | None
    message: str
    warnings: list[str] = field(default_factory=list)  # applied, but something after it went wrong


class AuditIncomplete(ConsoleError):
    """The server accepted the change but its result row could not be written (the intent row was)."""

    exit_code = 10
    kind = "applied, not fully audited"

    def __init__(self, message: str, outcome: Outcome):
        super().__init__(message)
        self.outcome = outcome


def _outcome_of(error: ConsoleError) -> str:
    if isinstance(error, ReadOnly):
        return "refused: read-only"
    if isinstance(error, Forbidden):
        return "refused: forbidden"
    if isinstance(error, InvalidInput):
        return "refused: invalid"
    if isinstance(error, StateConflict):
        return "refused: conflict"
    if isinstance(error, Conflict):
        return "failed: conflict"
    return f"failed: {error.kind}"


def _add_note(error: ConsoleError, journal_error: ConsoleError) -> None:
    """The refusal still reaches the user, and so does the journal's trouble."""
    error.message = f"{error.message} (and this was not written to the audit journal: {journal_error.message})"
    error.args = (error.message,)


class ActionPath:
    def __init__(self, audit: AuditJournal, *, read_only: bool, identity: Identity | None = None,
                 context: str | None = None):
        self.audit = audit
        self.read_only = read_only
        self.identity = identity or Identity.current()
        self.context = context  # the resolved kube context name, recorded on every row

    def _identity_for(self, action: Action) -> Identity:
        """Who acts on the backend: action.actor() (kube identity, KFP user), else the path's kube
        identity, else the OS user; never empty."""
        actor = getattr(action, "actor", None)
        if callable(actor):
            try:
                actor = actor()
            except ConsoleError:
                actor = None
        who = actor or self.identity.kube_identity or self.identity.os_user
        return Identity(self.identity.os_user, self.identity.ssh_client, who)

    def _record(self, action: Action, outcome: str, reason: str | None, *, before: Any = None,
                after: Any = None, message: str | None = None, intent_id: int | None = None,
                identity: Identity | None = None) -> int:
        return self.audit.record(
            identity=identity or self._identity_for(action), action=action.kind, target=action.target,
            outcome=outcome, reason=reason, before=before, after=after, message=message,
            context=self.context, intent_id=intent_id,
        )

    def _record_error(self, action: Action, error: ConsoleError, reason: str | None, change: Change | None,
                      intent_id: int | None = None) -> None:
        """Write the row of a refusal or failure; if the journal cannot, say so in the error's message."""
        try:
            self._record(action, _outcome_of(error), reason, before=change.before if change else None,
                         after=change.after if change else None, message=error.message, intent_id=intent_id)
        except ConsoleError as journal_error:
            _add_note(error, journal_error)

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
            self._record_error(action, error, reason, None)
            raise

    def cancel(self, action: Action, change: Change | None, reason: str | None = None) -> str:
        """Write the cancellation; returns "" or, when the journal could not take it, a note saying why."""
        try:
            self._record(action, "cancelled", reason, before=change.before if change else None,
                         after=change.after if change else None, message="cancelled at the confirmation")
        except ConsoleError as journal_error:
            return f" (not written to the audit journal: {journal_error.message})"
        return ""

    def execute(self, action: Action, change: Change, reason: str | None, *, dry_run: bool = False) -> Outcome:
        """Write the intent, apply a prepared change, write its result. Raises AuditIncomplete when
        the change was applied but its result row could not be written."""
        try:
            if not dry_run and not (reason and reason.strip()):
                raise InvalidInput("a reason is required for every change (--reason TEXT)")
            if self.read_only:  # the mode may have changed since prepare()
                raise ReadOnly(f"read-only: {action.kind} on {action.target} refused")
        except ConsoleError as error:
            self._record_error(action, error, reason, change)
            raise
        if dry_run:
            dry_run_id = self._record(action, "dry-run", reason, before=change.before, after=change.after,
                                      message=change.dry_run or "dry run: nothing changed")
            return Outcome(action.kind, action.target, "dry-run", change.before, change.after, dry_run_id,
                           "dry run: nothing was changed")
        identity = self._identity_for(action)
        try:
            intent_id = self._record(action, INTENT, reason, before=change.before, after=change.after,
                                     message="about to apply: " + "; ".join(change.lines), identity=identity)
        except ConsoleError as error:
            raise type(error)(f"{action.kind} on {action.target} refused, nothing was sent: its intent could "
                              f"not be written first: {error.message}") from None
        try:
            after = action.apply(change)
        except ConsoleError as error:
            self._record_error(action, error, reason, change, intent_id)
            raise
        except Exception as error:  # an unexpected failure is still written down before it surfaces
            try:
                self._record(action, "failed: error", reason, before=change.before, after=change.after,
                             message=f"{type(error).__name__}: {error}", intent_id=intent_id, identity=identity)
            except ConsoleError:
                log.exception("the audit journal could not record a failed %s", action.kind)
            raise
        audit_id, journal_error = self._record_result(action, reason, change, after, intent_id, identity)
        outcome = Outcome(action.kind, action.target, "applied", change.before, after, audit_id,
                          f"{action.kind} on {action.target} applied")
        self._announce(action, change, after, reason, identity, outcome)
        if journal_error is not None:
            raise AuditIncomplete(
                f"{action.kind} on {action.target} WAS APPLIED, but its result could not be written to the "
                f"audit journal after {RESULT_ATTEMPTS} attempts: {journal_error.message}. Intent row "
                f"#{intent_id} records the attempt; record the result by hand.", outcome)
        return outcome

    def _record_result(self, action: Action, reason: str | None, change: Change, after: dict[str, Any],
                       intent_id: int, identity: Identity) -> tuple[int | None, ConsoleError | None]:
        error: ConsoleError | None = None
        for attempt in range(RESULT_ATTEMPTS):
            if attempt:
                time.sleep(RETRY_PAUSE * attempt)
            try:
                return self._record(action, "applied", reason, before=change.before, after=after,
                                    intent_id=intent_id, identity=identity), None
            except ConsoleError as journal_error:
                error = journal_error
                log.warning("audit result row for intent #%s not written (attempt %d): %s",
                            intent_id, attempt + 1, journal_error.message)
        return None, error

    def _announce(self, action: Action, change: Change, after: dict[str, Any], reason: str | None,
                  identity: Identity, outcome: Outcome) -> None:
        """Tell the team (e.g. a Kubernetes Event); a failure is a warning, never an undo."""
        announce = getattr(action, "announce", None)
        if not callable(announce):
            return
        try:
            announce(change, after, reason, identity)
        except Exception as error:
            log.warning("announce of %s on %s failed", action.kind, action.target, exc_info=True)
            text = error.message if isinstance(error, ConsoleError) else f"{type(error).__name__}: {error}"
            outcome.warnings.append(f"applied, but the Kubernetes Event could not be written: {text}")

    def refuse(self, action: Action, change: Change | None, reason: str | None, error: ConsoleError) -> None:
        """Write down a refusal decided outside the action (e.g. no terminal to confirm on)."""
        self._record_error(action, error, reason, change)


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
