"""`mlops-console sandbox up --state-dir DIR`: run the local sandbox in the foreground."""

from __future__ import annotations


def register(sub, common) -> None:
    from console.sandbox.runner import add_up_arguments

    group = sub.add_parser("sandbox", parents=[common], help="local sandbox cluster, pipelines and metrics")
    group_sub = group.add_subparsers(dest="sandbox_cmd", metavar="COMMAND")
    group_sub.required = True
    up = group_sub.add_parser(
        "up", parents=[common],
        help="run the sandbox in the foreground until Ctrl-C; writes DIR/kubeconfig and DIR/endpoints.json")
    add_up_arguments(up)
    up.set_defaults(func=handle_up)


def handle_up(args, ctx) -> int:
    from console.sandbox.runner import up_from_args

    return up_from_args(args, ctx.out)
