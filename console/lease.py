"""One driver at a time (issue 12 §3): while a `rollout progress` steers an InferenceService it holds
the coordination.k8s.io/v1 Lease `mlops-console-NAME` in its namespace, renewing it as client-go's
leader election does (tools/leaderelection/resourcelock/leaselock.go: holderIdentity,
leaseDurationSeconds, acquireTime, renewTime, leaseTransitions; a Lease whose renewTime +
leaseDurationSeconds has passed is free to take, and a take-over counts a transition).

Other consoles' changes to that InferenceService are refused while someone else holds it
(`refusal`), unless forced. No Textual.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import leases
from adapters.errors import Conflict, ConsoleError, Forbidden, NotFound, StateConflict
from adapters.kube import KubeClient
from adapters.leases import Lease

log = logging.getLogger(__name__)
PREFIX = "mlops-console-"
DURATION = 60  # leaseDurationSeconds
RENEW_EVERY = 20.0  # seconds


def lease_name(isvc: str) -> str:
    return f"{PREFIX}{isvc}"[:253]


def holder_identity(os_user: str, kube_identity: str | None) -> str:
    """`user@host (kube identity)`."""
    return f"{os_user}@{socket.gethostname()} ({kube_identity or 'unknown'})"


def now() -> datetime:
    return datetime.now(UTC)


def expired(lease: Lease, at: datetime | None = None) -> bool:
    """Nobody holds it: no holder, or its renewTime + leaseDurationSeconds has passed."""
    if not lease.holder:
        return True
    last = lease.renewed or lease.acquired
    if last is None:
        return True
    return last + timedelta(seconds=lease.duration_seconds or DURATION) < (at or now())


def _stamp(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else "an unknown time"


def describe(lease: Lease, at: datetime | None = None) -> str:
    ago = ""
    if lease.renewed is not None:
        ago = f", renewed {max(0, int(((at or now()) - lease.renewed).total_seconds()))}s ago"
    return (f"lease {lease.name} in {lease.namespace} is held by {lease.holder} since "
            f"{_stamp(lease.acquired)}{ago}")


def refusal(client: KubeClient, namespace: str, name: str, *, own: LeaseHolder | None = None,
            force: bool = False) -> str | None:
    """Why a change to namespace/name must wait for another driver, or None. With force, the
    returned text says what was forced past (for the audit row and the Event), prefixed "forced"."""
    if own is not None and own.holds(namespace, name):
        return None
    try:
        lease = leases.get_lease(client, namespace, lease_name(name))
    except Forbidden:  # may patch the InferenceService but not read Leases: the lock is advisory
        log.warning("cannot read lease %s/%s: acting without the one-driver check", namespace, lease_name(name))
        return None
    if lease is None or expired(lease):
        return None
    if force:
        return f"forced past the {describe(lease)}"
    raise StateConflict(f"{namespace}/{name} is being steered by a progress: {describe(lease)}; wait for it to "
                        "end, or pass --force to act anyway (audited as forced)")


class LeaseLost(ConsoleError):
    """Another console took the Lease while a progress held it (--force, or it was not renewed)."""

    exit_code = 6
    kind = "lease lost"


class LeaseHolder:
    """Acquire, renew every RENEW_EVERY seconds from a thread, release. `lost` is set (with the
    reason in `lost_reason`) when a renewal finds someone else took the Lease."""

    def __init__(self, client: KubeClient, namespace: str, name: str, identity: str):
        self.client = client
        self.namespace = namespace
        self.isvc = name
        self.name = lease_name(name)
        self.identity = identity
        self.lease: Lease | None = None
        self.took_over: Lease | None = None  # the expired (or forced) Lease this one replaced
        self.lost = threading.Event()
        self.lost_reason = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def holds(self, namespace: str, name: str) -> bool:
        return self.lease is not None and not self.lost.is_set() and (namespace, name) == (self.namespace, self.isvc)

    def _body(self, current: Lease | None, at: datetime) -> dict[str, Any]:
        transitions = (current.transitions + 1) if current is not None and current.holder else 0
        return leases.lease_body(self.namespace, self.name, holder=self.identity, acquired=at, renewed=at,
                                 duration_seconds=DURATION, transitions=transitions,
                                 resource_version=current.resource_version if current is not None else None)

    def acquire(self, *, force: bool = False) -> None:
        """Take the Lease: create it, or replace one that has expired (or, forced, anyone's). A
        live Lease of another holder raises StateConflict naming the holder and since when."""
        current = leases.get_lease(self.client, self.namespace, self.name)
        at = now()
        if current is None:
            self.lease = leases.create_lease(self.client, self._body(None, at))
        else:
            if not expired(current, at) and not force:
                raise StateConflict(f"{self.namespace}/{self.isvc} is being steered by another progress: "
                                    f"{describe(current, at)}; wait for it to end, or pass --force")
            if current.holder:
                self.took_over = current
            self.lease = leases.replace_lease(self.client, self._body(current, at))

    def renew(self) -> None:
        with self._lock:
            lease = self.lease
            if lease is None or self.lost.is_set():
                return
            body = leases.lease_body(self.namespace, self.name, holder=self.identity, acquired=lease.acquired,
                                     renewed=now(), duration_seconds=DURATION, transitions=lease.transitions,
                                     resource_version=lease.resource_version)
            try:
                self.lease = leases.replace_lease(self.client, body)
            except (Conflict, NotFound):  # changed or deleted behind our back: someone took over
                other = leases.get_lease(self.client, self.namespace, self.name)
                self.lost_reason = (describe(other) if other is not None and other.holder
                                    else f"lease {self.name} was deleted")
                self.lost.set()

    def start_renewing(self, every: float = RENEW_EVERY) -> None:
        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.renew()
                except ConsoleError as error:  # a blip: the next renewal tries again well before expiry
                    log.warning("lease %s/%s not renewed: %s", self.namespace, self.name, error.message)
                if self.lost.is_set():
                    return

        self._thread = threading.Thread(target=loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and delete the Lease, only if it is still ours (resourceVersion precondition)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            lease, self.lease = self.lease, None
        if lease is None or self.lost.is_set():
            return
        try:
            leases.delete_lease(self.client, self.namespace, self.name, lease.resource_version)
        except ConsoleError as error:
            log.warning("lease %s/%s not released: %s", self.namespace, self.name, error.message)
