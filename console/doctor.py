"""`mlops-console doctor`: what the install gives and what it lacks, one check a line.

Each check is ok / warn / fail with one line of detail and, when not ok, the fix. Backends are
checked concurrently (a dead server costs its timeout once, not once per check); when a backend
cannot be reached, its one failing check stands for all of its checks. No Textual import: the CLI
and the palette share this.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.errors import ConsoleError, Forbidden, InvalidInput
from console.config import Settings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class CheckResult:
    check: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


def _failed(check: str, error: ConsoleError, fix: str) -> CheckResult:
    return CheckResult(check, FAIL, error.message, fix)


# -- Kubernetes -----------------------------------------------------------------------------------

KSERVE_GROUP, KSERVE_VERSION = "serving.kserve.io", "v1beta1"
# (what, verbs, resource, group, status when refused, what the console cannot do without it)
KUBE_PERMISSIONS = (
    ("read InferenceServices", ("get", "list", "watch"), "inferenceservices", KSERVE_GROUP, FAIL,
     "the Rollouts screen and `rollout list` cannot show anything"),
    ("change InferenceServices", ("patch",), "inferenceservices", KSERVE_GROUP, WARN,
     "canary steps, promote and rollback will be refused (read-only use works)"),
    ("create Events", ("create",), "events", "", WARN,
     "changes are journaled locally, but the team will not see them in kubectl or k9s"),
)
KFP_RUN_VERBS = ("get", "list", "terminate", "retry")


def kube_checks(settings: Settings) -> list[CheckResult]:
    from adapters.kube import KubeClient

    try:
        client = KubeClient(kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace)
    except ConsoleError as error:
        return [_failed("kubernetes: kubeconfig", error, "pass --kubeconfig FILE / --context NAME, or set KUBECONFIG")]
    try:
        return _kube_checks(client, settings)
    finally:
        client.close()


def _kube_checks(client: Any, settings: Settings) -> list[CheckResult]:
    where = f"context {client.context}"
    try:
        who = client.whoami()
        resources = client.served_resources(KSERVE_GROUP, KSERVE_VERSION)
    except ConsoleError as error:
        return [_failed("kubernetes: reachable", error,
                        f"check that the API server of {where} is up and reachable from here (kubectl get ns)")]
    results = [CheckResult("kubernetes: reachable", OK, f"{where}, signed in as {who}")]
    if "inferenceservices" not in resources:
        results.append(CheckResult(
            "kubernetes: InferenceService CRD", FAIL,
            f"{KSERVE_GROUP}/{KSERVE_VERSION} inferenceservices is not served by {where}",
            "install KServe (its CRDs) on this cluster, or pick the cluster that runs it with --context"))
        return results
    results.append(CheckResult("kubernetes: InferenceService CRD", OK,
                               f"{KSERVE_GROUP}/{KSERVE_VERSION} inferenceservices is served"))
    # the scope the screens use: -n NAMESPACE, else every namespace (not the kubeconfig's "default",
    # where no model may live: a walkthrough found the doctor judging the wrong namespace)
    namespace = None if settings.all_namespaces or not settings.namespace else settings.namespace
    scope = f"namespace {namespace}" if namespace else "all namespaces"
    for what, verbs, resource, group, refused_status, without in KUBE_PERMISSIONS:
        results.append(_permission_check(client, f"kubernetes: {what}", verbs, resource, group, namespace, scope,
                                         refused_status, without))
    results.append(_permission_check(
        client, "kubernetes: Kubeflow Pipelines run verbs", KFP_RUN_VERBS, "runs", "pipelines.kubeflow.org",
        namespace, scope, WARN, "a multi-user Kubeflow Pipelines refuses the same to this identity"))
    return results


def _permission_check(client: Any, check: str, verbs: tuple[str, ...], resource: str, group: str,
                      namespace: str | None, scope: str, refused_status: str, without: str) -> CheckResult:
    denied = []
    for verb in verbs:
        try:
            allowed, _ = client.can_i(verb, resource, group, namespace)
        except ConsoleError as error:
            return _failed(check, error, "the API server did not answer an access review; check its health")
        if not allowed:
            denied.append(verb)
    full = f"{resource}.{group}" if group else resource
    if not denied:
        return CheckResult(check, OK, f"{'/'.join(verbs)} {full} in {scope}")
    return CheckResult(check, refused_status,
                       f"{client.whoami()} may not {'/'.join(denied)} {full} in {scope}: {without}",
                       f"ask a cluster admin for a Role granting {'/'.join(denied)} on {full}, "
                       "or use a --context that has it")


# -- Kubeflow Pipelines -----------------------------------------------------------------------------


def kfp_checks(settings: Settings) -> list[CheckResult]:
    from console import clients

    if not settings.kfp_url:
        return [CheckResult("kfp: configured", WARN, "no Kubeflow Pipelines URL is set: the Pipelines screen is empty",
                            "set kfp_url in the config (or --kfp-url, MLOPS_CONSOLE_KFP_URL)")]
    try:
        client = clients.pipelines_client(settings)
    except ConsoleError as error:
        return [_failed("kfp: configured", error, "fix the [kfp] settings named above")]
    try:
        try:
            health = client.healthz()
        except ConsoleError as error:
            return [_failed("kfp: reachable", error, f"check that {settings.kfp_url} is the KFP API's base URL and is up")]
        results = [CheckResult("kfp: reachable", OK, f"{settings.kfp_url} answers")]
        multi_user = health.get("multi_user") is True
        namespace = client.namespace  # -n (or the config's namespace), then [kfp] namespace
        if multi_user and not namespace:
            results.append(CheckResult("kfp: mode", FAIL, "multi-user: every request must name a namespace, and none is set",
                                       "pass -n NAMESPACE, or set [kfp] namespace (per context under [contexts.\"NAME\"])"))
            return results
        mode = f"multi-user, namespace {namespace}" if multi_user else "single-user (it does not check permissions)"
        results.append(CheckResult("kfp: mode", OK, mode))
        try:
            client.list_runs(page_size=1, namespace=namespace if multi_user else None)
        except Forbidden as error:
            results.append(_failed("kfp: auth", error, "set [kfp] user_header, token_env or token_file to a user "
                                   "allowed to list runs" + (f" in {namespace}" if multi_user else "")))
        except ConsoleError as error:
            results.append(_failed("kfp: auth", error, "KFP refused to list runs; see the detail"))
        else:
            results.append(CheckResult("kfp: auth", OK, "listing runs is allowed"))
        return results
    finally:
        client.close()


# -- Prometheus -----------------------------------------------------------------------------------


def prometheus_checks(settings: Settings) -> list[CheckResult]:
    from console import clients

    if not settings.prometheus_url:
        return [CheckResult("prometheus: configured", WARN,
                            "no Prometheus URL is set: canary health and drift have no data",
                            "set prometheus_url in the config (or --prometheus-url, MLOPS_CONSOLE_PROMETHEUS_URL)")]
    try:
        client = clients.metrics_client(settings)
    except ConsoleError as error:
        return [_failed("prometheus: configured", error, "fix the [prometheus] settings named above")]
    try:
        try:
            client.ready()
        except ConsoleError as error:
            return [_failed("prometheus: reachable", error,
                            f"check that {settings.prometheus_url} is Prometheus's base URL and is up")]
        results = [CheckResult("prometheus: reachable", OK, f"{settings.prometheus_url} is ready")]
        results.extend(metric_checks(client, settings))
        return results
    finally:
        client.close()


def metric_checks(client: Any, settings: Settings) -> list[CheckResult]:
    """Which request-metric profile matched, and whether feature histograms exist."""
    from adapters.metrics import detect_profile

    results = []
    try:
        match = detect_profile(client, settings.namespace)
        served = client.served_models(namespace=settings.namespace) if match.profile else []
    except ConsoleError as error:
        return [_failed("prometheus: request metrics", error, "see the detail")]
    if match.profile:
        isvcs = sorted({f"{ns}/{name}" for ns, name, _ in served})
        # Standard (RawDeployment) predictors have no revisions: their series name the Deployment
        # ({isvc}-predictor, {isvc}-{canary}-predictor), which is what a Standard-mode canary is judged by
        deployments = sorted({f"{ns}/{rev}" for ns, name, rev in served
                              if rev.startswith(f"{name}-") and rev.endswith("-predictor")})
        standard = f"; Standard-mode predictors by Deployment: {_some(deployments)}" if deployments else ""
        # a Knative and a Standard install side by side (or an upgrade half done): every profile found
        found = (f"profile {match.profile.describe()}" if len(match.candidates) <= 1 else
                 "profiles " + ", ".join(f"{name} ({count} series)" for name, count in match.candidates.items()))
        results.append(CheckResult("prometheus: request metrics", OK, f"{found}; series for {_some(isvcs)}{standard}"))
    else:
        results.append(CheckResult(
            "prometheus: request metrics", WARN,
            f"no request metrics: looked for {', '.join(match.missing)}; canary health has no data",
            "scrape the predictors' queue-proxy (README: Using it on your cluster, Metrics), or set [metrics] "
            "profile and its names to what you export"))
    fc = client.features_contract
    metric = f"{fc.metric}_bucket"
    try:
        features = client.instant(f"count by ({fc.namespace_label}, {fc.model_label}) ({metric})")
    except ConsoleError as error:
        return [*results, _failed("prometheus: feature histograms", error, "see the detail")]
    if features:
        models = sorted({f"{s.labels.get(fc.namespace_label)}/{s.labels.get(fc.model_label)}" for s in features})
        results.append(CheckResult("prometheus: feature histograms", OK,
                                   f"{metric} for {len(models)} model(s): {_some(models)}"))
    else:
        results.append(CheckResult(
            "prometheus: feature histograms", WARN,
            f"no {metric} series: the Drift screen has nothing to show",
            "export the feature histograms from your predictor (README: Drift inputs), or set [metrics] "
            "feature_metric and its label names to what you export"))
    return results


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (" ..." if len(names) > shown else "")


# -- local files ----------------------------------------------------------------------------------


def catalog_check(settings: Settings) -> CheckResult:
    from adapters.catalog import Catalog

    path = Path(settings.catalog)
    if not path.exists():
        return CheckResult("catalog: readable", WARN, f"{path} does not exist: the Catalog screen is empty",
                           "import versions with `mlops-console catalog import FILE`, or set catalog in the config")
    try:
        catalog = Catalog(path, create=False, read_only=True)
        try:
            stats = catalog.stats()
        finally:
            catalog.close()
    except ConsoleError as error:
        return _failed("catalog: readable", error, "point catalog at an mlops-console catalog file")
    return CheckResult("catalog: readable", OK, f"{path}: {stats.get('models', 0)} models, "
                                                f"{stats.get('versions', 0)} versions")


def audit_check(settings: Settings) -> CheckResult:
    """Can a row be written? Takes the write lock and lets go, so no row is added."""
    path = Path(settings.audit)
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not path.exists():
        if os.access(existing, os.W_OK):
            return CheckResult("audit: writable", OK, f"{path} will be created at the first change")
        return CheckResult("audit: writable", FAIL, f"{path} cannot be created: {existing} is not writable",
                           "set audit in the config to a writable path; every change is refused without it")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2.0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as error:
        return CheckResult("audit: writable", FAIL, f"{path} cannot be written: {error}",
                           "free the lock or fix the file's permissions; every change is refused until then")
    return CheckResult("audit: writable", OK, f"{path}")


# -- all of it ------------------------------------------------------------------------------------


def run_doctor(settings: Settings) -> list[CheckResult]:
    groups: list[Callable[[Settings], list[CheckResult]]] = [kube_checks, kfp_checks, prometheus_checks]
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = [pool.submit(_guarded, group, settings) for group in groups]
        results = [r for future in futures for r in future.result()]
    return results + [catalog_check(settings), audit_check(settings)]


def _guarded(group: Callable[[Settings], list[CheckResult]], settings: Settings) -> list[CheckResult]:
    try:
        return group(settings)
    except InvalidInput as error:
        return [CheckResult(group.__name__.replace("_checks", ""), FAIL, error.message, "fix the setting named")]


def failed(results: list[CheckResult]) -> bool:
    return any(r.status == FAIL for r in results)
