"""Switching cluster and namespace inside a running console (the palette's `context NAME` and
`namespace NAME`, as k9s's `:ctx` and `:ns`): what there is to switch to, and the settings after.

The new settings are resolved again from the command line's flags with the new context (or
namespace), so the context's own section of the config ([contexts."NAME"]: read-only, the KFP and
Prometheus URLs) applies at once and nothing of the previous context's carries over.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from adapters.errors import InvalidInput
from console.config import Settings

ALL_NAMESPACES = "all"


def kube_contexts(kubeconfig: str | None) -> list[str]:
    """The context names of the kubeconfig kubectl would use (each file of KUBECONFIG, merged as
    kubectl merges them); [] when there is none. Read with PyYAML (the kubernetes client's own
    dependency) rather than the client's loader, which costs a second to import."""
    import os
    from pathlib import Path

    import yaml

    names: set[str] = set()
    candidates = (kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube/config")).split(os.pathsep)
    for candidate in candidates:
        try:
            loaded = yaml.safe_load(Path(candidate).expanduser().read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        for entry in (loaded or {}).get("contexts") or [] if isinstance(loaded, dict) else []:
            if isinstance(entry, dict) and entry.get("name"):
                names.add(str(entry["name"]))
    return sorted(names)


def cluster_namespaces(kube: Any) -> list[str]:
    """The cluster's namespaces (raises ConsoleError, e.g. Forbidden for a namespaced user)."""
    from kubernetes.client import CoreV1Api

    try:
        found = CoreV1Api(kube.api_client).list_namespace(_request_timeout=kube._timeout())
    except Exception as exc:
        raise kube.map_error(exc, verb="list", resource="namespaces") from None
    return sorted(str(item.metadata.name) for item in found.items if item.metadata is not None)


def switched(settings: Settings, flags: dict[str, Any] | None, *, context: str | None = None,
             namespace: str | None = None) -> tuple[Settings, dict[str, Any] | None]:
    """Settings (and the flags they come from) for another context or namespace."""
    if context is not None and not context.strip():
        raise InvalidInput("context: give a context name from the kubeconfig")
    changes: dict[str, Any] = {}
    if context is not None:
        changes["context"] = context
    if namespace is not None:
        all_namespaces = namespace == ALL_NAMESPACES
        changes["namespace"] = None if all_namespaces else namespace
        changes["all_namespaces"] = all_namespaces
    if flags is None:  # built in code, not from a command line: there is nothing to resolve again
        new = dataclasses.replace(settings, **changes)
        return new, None
    from console import config

    new_flags = {**flags, **changes}
    return config.resolve(new_flags), new_flags
