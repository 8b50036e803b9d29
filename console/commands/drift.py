"""`mlops-console drift show` and `mlops-console health`: drift and canary health from Prometheus.

    drift show MODEL -n NS [--window 15m] [--reference stable|catalog|before|UNIX_TIME]
                           [--at UNIX_TIME] [--series] [--json]
    health NAME -n NS [--window 5m] [--at UNIX_TIME] [--json]

Prometheus: ctx.settings.prometheus_url, auth from ctx.settings.prometheus; thresholds from
ctx.settings.drift and ctx.settings.health.

Which revision is the canary and which is stable (the traffic split), in this order:
1. --canary-revision / --stable-revision (and --storage-uri for the catalog reference);
2. the InferenceService's status traffic from the cluster (adapters.kube), when a kubeconfig is
   usable: canary = latestRevision, stable = the "prev" tag;
3. without a kubeconfig: the revisions Prometheus has metrics for, when there is exactly one.
`resolve_traffic` is the seam; the screens can build a `Traffic` from their own kube state.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.errors import InvalidInput, NotFound
from console.commands.output import table

if TYPE_CHECKING:
    from console.rollouts import NotReady


@dataclass
class Traffic:
    live: str | None  # the canary (latestRevision), or the only revision taking traffic
    stable: str | None  # the "prev" revision while a canary runs
    storage_uri: str | None = None  # what the live revision serves (for the catalog reference)
    percents: dict[str, int | None] = field(default_factory=dict)
    source: str = "flags"  # flags | cluster | prometheus
    not_ready: NotReady | None = None  # from the cluster: its newest revision is not ready


HEALTH_EXIT_CODES = """exit codes (a gate for CI/CD pipelines):
  0   healthy
  1   failing: a check failed, or the latest revision failed or is not ready
  10  not enough data to judge (too few requests in the window, or no metrics)
  2 bad input, 3 unreachable, 4 forbidden, 5 not found, 8 bad data"""


def register(sub, common) -> None:
    drift = sub.add_parser("drift", parents=[common], help="input drift per feature, from Prometheus")
    dsub = drift.add_subparsers(dest="drift_command", metavar="COMMAND", required=True, parser_class=type(drift))
    show = dsub.add_parser("show", parents=[common], help="PSI, JS distance, sample sizes and status per feature")
    show.add_argument("model", metavar="MODEL", help="InferenceService name")
    show.add_argument("--window", default="15m", metavar="W", help="15m, 1h, 6h or 24h (default 15m)")
    show.add_argument("--reference", default="stable", metavar="REF",
                      help="stable (the prev revision, same window), catalog (training histograms), "
                           "before (the same revision one window earlier) or a unix time (default stable)")
    show.add_argument("--at", metavar="UNIX_TIME", help="evaluation instant (default now), for reproducible results")
    show.add_argument("--series", action="store_true", help="with --json, include PSI over time per feature")
    _traffic_flags(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=drift_show)

    health = sub.add_parser("health", parents=[common], help="canary against stable: success rate, latency, verdict",
                            formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HEALTH_EXIT_CODES)
    health.add_argument("name", metavar="NAME", help="InferenceService name")
    health.add_argument("--window", default="5m", metavar="W", help="window of the comparison (default 5m)")
    health.add_argument("--at", metavar="UNIX_TIME", help="evaluation instant (default now)")
    _traffic_flags(health)
    health.add_argument("--json", action="store_true", help="print JSON")
    health.set_defaults(func=health_show)


def _traffic_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--canary-revision", metavar="REV", help="the canary (or only) revision, instead of asking the cluster")
    p.add_argument("--stable-revision", metavar="REV", help="the stable (prev) revision, instead of asking the cluster")
    p.add_argument("--storage-uri", metavar="URI", help="the artifact the canary serves (catalog reference without a cluster)")


# ----------------------------------------------------------------------------------------------


def parse_at(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r} is not a unix time (seconds since 1970, e.g. {int(time.time())})") from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"--at {text!r} is not a unix time")
    return value


def metrics_client(ctx):
    return ctx.client("metrics")


def drift_service(ctx, metrics=None):
    from console import canary, drift
    from console.drift_service import DriftService

    return DriftService(metrics or metrics_client(ctx), catalog=None,
                        thresholds=drift.Thresholds.from_settings(getattr(ctx.settings, "drift", None)),
                        health_thresholds=canary.HealthThresholds.from_settings(getattr(ctx.settings, "health", None)))


def _namespace(args, ctx) -> str:
    ns = getattr(ctx.settings, "namespace", None)
    if ns:
        return ns
    raise InvalidInput("which namespace? pass -n NAMESPACE")


def resolve_traffic(args, ctx, namespace: str, name: str, metrics) -> Traffic:
    """The traffic split of `namespace/name`: flags, else the cluster, else Prometheus."""
    canary_rev = getattr(args, "canary_revision", None)
    stable_rev = getattr(args, "stable_revision", None)
    storage_uri = getattr(args, "storage_uri", None)
    if canary_rev or stable_rev:
        if not canary_rev:
            raise InvalidInput("--stable-revision needs --canary-revision too")
        return Traffic(canary_rev, stable_rev, storage_uri, source="flags")
    isvc = _from_cluster(ctx, namespace, name)
    if isvc is not None:
        return traffic_of(isvc, storage_uri)
    revisions = sorted({rev for ns, m, rev in metrics.served_models(namespace=namespace) if m == name})
    if not revisions:
        raise NotFound(f"Prometheus has no request metrics for {namespace}/{name} "
                       f"({metrics.request_metrics_hint()}): check the name and namespace, and that they are scraped")
    if len(revisions) > 1:
        raise InvalidInput(f"{namespace}/{name} has metrics for revisions {', '.join(revisions)} and no cluster "
                           "says which is the canary: pass --canary-revision and --stable-revision, or a kubeconfig")
    return Traffic(revisions[0], None, storage_uri, source="prometheus")


def traffic_of(isvc, storage_uri: str | None = None) -> Traffic:
    """The split as an InferenceService's status tells it: canary = latestRevision, stable = prev."""
    from console.rollouts import latest_not_ready

    live = isvc.latest_revision or isvc.prev_revision
    # while the newest revision is not ready, "latest" and "prev" both name the last ready one
    stable = isvc.prev_revision if isvc.latest_revision and isvc.prev_revision != live else None
    percents = {t.revision: t.percent for t in isvc.traffic if t.revision}
    if not live:
        raise NotFound(f"{isvc.namespace}/{isvc.name} has no revision taking traffic yet "
                       "(status.components.predictor.traffic is empty)")
    return Traffic(live, stable, storage_uri or isvc.storage_uri, percents, source="cluster",
                   not_ready=latest_not_ready(isvc))


def judge(service, namespace: str, name: str, traffic: Traffic, window: str, at: float | None = None):
    """The verdict of `health` (and of each check of `rollout progress`): the metrics' checks, and a
    failed or not-ready newest revision on top of them."""
    verdict = service.health(namespace, name, canary_revision=traffic.live, stable_revision=traffic.stable,
                             window=window, at=at, traffic=traffic.percents)
    if traffic.not_ready is not None:
        from console.canary import with_revision_not_ready

        nr = traffic.not_ready
        verdict = with_revision_not_ready(verdict, nr.revision, nr.failed, nr.message)
    return verdict


def _from_cluster(ctx, namespace: str, name: str):
    """The InferenceService from the cluster, or None when no kubeconfig is usable."""
    try:
        from adapters.kube import KubeClient
    except ImportError:
        return None
    s = ctx.settings
    try:
        client = KubeClient(kubeconfig=getattr(s, "kubeconfig", None), context=getattr(s, "context", None),
                            namespace=namespace, timeout=10.0, connect_timeout=3.0)
    except (InvalidInput, NotFound, OSError):
        return None  # no kubeconfig here: fall back to Prometheus
    try:
        return client.get_inference_service(namespace, name)
    finally:
        client.close()


# ----------------------------------------------------------------------------------------------


def _fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def drift_show(args, ctx) -> int:
    from console.drift_service import check_window, parse_reference

    namespace = _namespace(args, ctx)
    check_window(args.window)
    reference = parse_reference(args.reference)
    at = parse_at(args.at)
    metrics = metrics_client(ctx)
    traffic = resolve_traffic(args, ctx, namespace, args.model, metrics)
    service = drift_service(ctx, metrics)
    if reference == "catalog":
        try:
            service.catalog = ctx.catalog
        except (AttributeError, ImportError):
            service.catalog = None  # DriftService then says the catalog reference needs a catalog
    report = service.report(namespace, args.model, window=args.window, reference=reference, at=at,
                            live_revision=traffic.live, stable_revision=traffic.stable,
                            storage_uri=traffic.storage_uri, with_series=bool(args.json and args.series))
    if args.json:
        body = report.to_json(with_series=bool(args.series))
        body["traffic_source"] = traffic.source
        ctx.print_json(body)
        return 0
    out = ctx.out
    out.write(f"{namespace}/{args.model}  window {args.window}  at {_when(report.at)}\n")
    out.write(f"live: {traffic.live}   reference: {report.reference_label}\n")
    if report.message:
        out.write(report.message + "\n")
        return 0
    rows = [["FEATURE", "STATUS", "PSI", "JS", "LIVE N", "REF N", "FLOOR"]]
    for f in report.features:
        rows.append([f.feature, f.status, _fmt(f.psi), _fmt(f.js), _fmt(f.live_count, ".0f"),
                     _fmt(f.reference_count, ".0f"), _fmt(f.noise_floor)])
    for line in table(rows):
        out.write(line + "\n")
    notes = [f"{f.feature}: {f.reason}" for f in report.features if f.reason]
    for n in notes:
        out.write(f"  note: {n}\n")
    t = report.thresholds
    out.write(f"warn at PSI {t.warn:g}, drift at {t.drift:g} and >= {t.floor_factor:g}x the noise floor; "
              f"fewer than {t.min_samples} samples a side is too-few-samples\n")
    return 0


def health_show(args, ctx) -> int:
    """Exit 0 healthy, 1 failing, 10 not enough data (HEALTH_EXIT_CODES)."""
    from console.drift_service import check_window
    from console.progress import VERDICT_EXIT

    namespace = _namespace(args, ctx)
    check_window(args.window)
    at = parse_at(args.at)
    metrics = metrics_client(ctx)
    traffic = resolve_traffic(args, ctx, namespace, args.name, metrics)
    verdict = judge(drift_service(ctx, metrics), namespace, args.name, traffic, args.window, at)
    code = VERDICT_EXIT[verdict.status]
    if args.json:
        body = verdict.to_json()
        body.update({"namespace": namespace, "name": args.name, "window": args.window,
                     "at": at, "traffic_source": traffic.source, "exit_code": code})
        ctx.print_json(body)
        return code
    out = ctx.out
    line = f"{namespace}/{args.name}: {verdict.text}"
    if verdict.reason:
        line += f" ({verdict.reason})"
    out.write(line + "\n")
    cols = [h for h in (verdict.canary, verdict.stable) if h is not None]
    head = ["", *[f"{h.role} {h.revision}" + (f" ({h.traffic_percent}%)" if h.traffic_percent is not None else "")
                  for h in cols]]
    rows = [head,
            ["requests", *[_fmt(h.requests, ".0f") for h in cols]],
            ["rate/s", *[_fmt(h.request_rate, ".2f") for h in cols]],
            ["success", *["-" if h.success_rate is None else f"{h.success_rate * 100:.2f}%" for h in cols]],
            ["p50", *["-" if h.p50_seconds is None else f"{h.p50_seconds * 1000:.0f} ms" for h in cols]],
            ["p99", *["-" if h.p99_seconds is None else f"{h.p99_seconds * 1000:.0f} ms" for h in cols]]]
    for line in table(rows):
        out.write(line + "\n")
    for c in verdict.checks:
        mark = "ok  " if c.passed else ("FAIL" if c.passed is False else "n/a ")
        out.write(f"  {mark} {c.text}\n")
    if verdict.metrics and verdict.metrics.get("profile"):
        out.write(f"{verdict.metrics['text']}: {', '.join(verdict.metrics['metric_names'])}\n")
    if verdict.top_drift:
        out.write("top drifting features: " + ", ".join(
            f"{f.feature} {f.psi:.3f} ({f.status})" for f in verdict.top_drift) + "\n")
    return code
