"""`mlops-console sandbox up --state-dir DIR`: run the local sandbox in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from console.context import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    # the sandbox itself (HTTP servers, TLS, the simulators) is imported only when `sandbox up` runs
    group = sub.add_parser("sandbox", parents=[common], help="local sandbox cluster, pipelines and metrics")
    group_sub = group.add_subparsers(dest="sandbox_cmd", metavar="COMMAND")
    group_sub.required = True
    up = group_sub.add_parser(
        "up", parents=[common],
        help="run the sandbox in the foreground until Ctrl-C; writes DIR/kubeconfig and DIR/endpoints.json")
    add_up_arguments(up)
    up.set_defaults(func=handle_up)


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where to write kubeconfig, endpoints.json, certificates and data "
                             "(default: $XDG_STATE_HOME/mlops-console/sandbox)")
    parser.add_argument("--ready-delay", type=float, default=0.5,
                        help="seconds a new revision takes to become ready (default 0.5)")
    parser.add_argument("--no-prometheus", action="store_true", help="do not start the metrics exporter/Prometheus")
    parser.add_argument("--metrics-profile", default="knative", metavar="PROFILE",
                        help="whose request metrics the exporter speaks: knative (queue-proxy up to 1.18, the "
                             "default), knative-otel, knative-otel-target-info, knative-unprefixed, kserve, console")
    parser.add_argument("--scrape-interval", type=float, default=5.0, metavar="SECONDS",
                        help="how often the exporter ticks and Prometheus scrapes it (default 5; 1 suits "
                             "rollout progress --interval 5s --window 30s)")
    parser.add_argument("--no-kfp", action="store_true", help="do not start the Kubeflow Pipelines endpoint")
    parser.add_argument("--kfp-multi-user", action="store_true", dest="kfp_multi_user",
                        help="serve Kubeflow Pipelines in multi-user mode (namespaces, kubeflow-userid header, "
                             "access reviews); endpoints.json gets the admin's kfp_user_header")
    parser.add_argument("--no-catalog", action="store_true", help="do not build the demo catalog")
    parser.add_argument("--empty", action="store_true", help="start with no demo InferenceServices")



def handle_up(args: argparse.Namespace, ctx: Context) -> int:
    from console.sandbox.runner import up_from_args

    return up_from_args(args, cast("TextIO", ctx.out))  # a SafeStream writes as a text stream does
