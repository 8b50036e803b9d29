"""`mlops-console rollout ...`: KServe canary rollouts from the command line.

    rollout list [-A | -n NS] [--json]
    rollout status NAME [-n NS] [--json]
    rollout set NAME --percent P        -n NS --reason TEXT [--yes] [--dry-run]
    rollout step NAME (--up | --down) [--step S]   (same flags)
    rollout promote NAME                (same flags)
    rollout rollback NAME               (same flags)
    rollout start-canary NAME --storage-uri URI [--percent P]   (same flags)

Mutating commands go through ctx.run_action (validate -> read-only -> SelfSubjectAccessReview ->
server-side dry-run -> confirm -> patch with a resourceVersion precondition -> audit row).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from console import humanize
from console.commands.output import table


def register(sub, common) -> None:
    rollout = sub.add_parser("rollout", parents=[common], help="KServe canary rollouts: list, status, set, promote, rollback")
    rsub = rollout.add_subparsers(dest="rollout_command", metavar="COMMAND", required=True,
                                  parser_class=type(rollout))

    listing = rsub.add_parser("list", parents=[common], help="InferenceServices and their traffic split")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_rollouts)

    status = rsub.add_parser("status", parents=[common], help="one InferenceService: split, conditions, revisions")
    status.add_argument("name", metavar="NAME")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=show_status)

    def mutating(name: str, help_text: str):
        p = rsub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("name", metavar="NAME")
        p.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal; required to apply)")
        p.add_argument("--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)")
        p.add_argument("--dry-run", action="store_true", dest="dry_run",
                       help="check and show the change (server-side dry run), change nothing")
        return p

    p = mutating("set", "set the canary's share of traffic (spec.predictor.canaryTrafficPercent)")
    # a string, validated by the action so that a bad value is refused AND written to the journal
    p.add_argument("--percent", metavar="P", required=True, help="0..100")
    p.set_defaults(func=set_percent)

    p = mutating("step", "step the canary's share up or down by the configured step")
    direction = p.add_mutually_exclusive_group(required=True)
    direction.add_argument("--up", action="store_const", const=1, dest="direction")
    direction.add_argument("--down", action="store_const", const=-1, dest="direction")
    p.add_argument("--step", metavar="S", default=None, help="step size (default: [rollout] step in the config)")
    p.set_defaults(func=step_percent)

    p = mutating("promote", "give the latest revision all traffic (remove canaryTrafficPercent)")
    p.set_defaults(func=promote)

    p = mutating("rollback", "send all traffic back to the previous revision (canaryTrafficPercent 0)")
    p.set_defaults(func=rollback)

    p = mutating("start-canary", "serve another model version as a canary (new storageUri + canaryTrafficPercent)")
    p.add_argument("--storage-uri", metavar="URI", required=True, help="e.g. s3://mlops-models/fraud-detector/v41")
    p.add_argument("--percent", metavar="P", default="10", help="the canary's share, 0..100 (default 10)")
    p.set_defaults(func=start_canary)


# ----------------------------------------------------------------------------------------------


def kube_client(ctx):
    return ctx.client("kube")


def _namespace(ctx, client) -> str:
    return ctx.settings.namespace or client.namespace


def _age(created: str | None) -> str:
    return humanize.age(created, time.time(), short=True) or "-"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if value is True:
        return "True"
    if value is False:
        return "False"
    return str(value)


def list_rollouts(args: argparse.Namespace, ctx) -> int:
    from console import rollouts

    client = kube_client(ctx)
    namespace = None if ctx.settings.all_namespaces else _namespace(ctx, client)
    items, _rv = client.list_inference_services(namespace)
    if args.json:
        ctx.print_json([rollouts.row(i) for i in items])
        return 0
    if not items:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        ctx.print(f"no InferenceServices in {where} (context {client.context})")
        return 0
    header = ["NAMESPACE", "NAME", "MODE", "READY", "PREV", "LATEST", "PREV%", "LATEST%", "CANARY%", "AGE"]
    rows = [header]
    for i in items:
        rows.append([i.namespace, i.name, i.mode, _cell(i.ready), _cell(i.prev_revision), _cell(i.latest_revision),
                     _cell(i.prev_percent), _cell(i.latest_percent), _cell(i.canary_traffic_percent),
                     _age(i.created_at)])
    for line in table(rows):
        ctx.print(line)
    for i in items:  # on stderr, as kubectl's warnings: the table on stdout stays a table
        for problem in rollouts.problems(i):
            ctx.err.write(f"warning: {i.namespace}/{i.name}: {problem}\n")
    return 0


def show_status(args: argparse.Namespace, ctx) -> int:
    from console import rollouts

    client = kube_client(ctx)
    isvc = client.get_inference_service(_namespace(ctx, client), args.name)
    data = rollouts.status(isvc)
    if args.json:
        ctx.print_json(data)
        return 0
    ctx.print(f"{isvc.namespace}/{isvc.name}  mode {isvc.mode}  ready {_cell(isvc.ready)}")
    ctx.print(f"  model:   {isvc.storage_uri or '-'}")
    ctx.print(f"  url:     {isvc.url or '-'}")
    ctx.print(f"  canaryTrafficPercent (spec): {_cell(isvc.canary_traffic_percent)}")
    ctx.print(f"  traffic: {rollouts.split_text(isvc)}")
    cannot = rollouts.canary_refusal(isvc)
    if cannot:
        ctx.print(f"  canary:  not possible: {cannot}")
    not_ready = rollouts.latest_not_ready(isvc)
    if not_ready:
        ctx.print(f"  warning: {not_ready.text} (latest ready: {isvc.latest_ready_revision or 'none'})")
    ctx.print("  revisions:")
    for r in data["revisions"]:
        pct = f"{r['percent']}%" if r["percent"] is not None else "-"
        ctx.print(f"    {r['name']:<40} {pct:>5}  {', '.join(r['roles'])}")
    ctx.print("  conditions:")
    for c in isvc.conditions:
        extra = " ".join(x for x in (c.reason or "", c.message or "") if x)
        ctx.print(f"    {c.type:<28} {c.status:<8} {extra}".rstrip())
    for problem in isvc.problems:
        ctx.print(f"  warning: {problem}")
    return 0


def _run(ctx, args, action) -> int:
    outcome = ctx.run_action(action, reason=args.reason, yes=args.yes, dry_run=args.dry_run)
    after = getattr(action, "after_object", None)
    if outcome.status == "applied" and after is not None:
        ctx.print(f"{action.target}: canaryTrafficPercent {_cell(after.canary_traffic_percent)}, "
                  f"model {after.storage_uri or '-'} (resourceVersion {after.resource_version}; "
                  f"audit #{outcome.audit_id})")
    else:
        ctx.print(f"{action.target}: {outcome.message} (audit #{outcome.audit_id})")
    return 0


class _Unbuilt:
    """Stands for an action whose client could not even be built, so the refusal is journaled."""

    def __init__(self, kind: str, target: str):
        self.kind, self.target = kind, target


def _mutate(args, ctx, kind: str, build, check_input=None) -> int:
    """check_input() validates the flags first, so a bad percent is named as such (exit 2) even
    when the cluster is unreachable; its refusal is audited like any other."""
    from adapters.errors import ConsoleError

    try:
        if check_input is not None:
            check_input()
        client = kube_client(ctx)
        namespace = _namespace(ctx, client)
    except ConsoleError as error:
        target = f"{ctx.settings.namespace or '?'}/{args.name}"
        ctx.actions.refuse(_Unbuilt(kind, target), None, args.reason, error)
        raise
    return _run(ctx, args, build(client, namespace))


def set_percent(args, ctx) -> int:
    from console.rollout_actions import SetCanaryPercent
    from console.rollouts import parse_percent

    return _mutate(args, ctx, SetCanaryPercent.kind,
                   lambda c, ns: SetCanaryPercent(c, ns, args.name, args.percent),
                   check_input=lambda: parse_percent(args.percent))


def step_percent(args, ctx) -> int:
    from console.rollout_actions import StepCanary

    step = args.step if args.step is not None else getattr(getattr(ctx.settings, "rollout", None), "step", 10)
    from console.rollouts import parse_step

    return _mutate(args, ctx, StepCanary.kind,
                   lambda c, ns: StepCanary(c, ns, args.name, args.direction, step),
                   check_input=lambda: parse_step(step))


def promote(args, ctx) -> int:
    from console.rollout_actions import Promote

    return _mutate(args, ctx, Promote.kind, lambda c, ns: Promote(c, ns, args.name))


def rollback(args, ctx) -> int:
    from console.rollout_actions import Rollback

    return _mutate(args, ctx, Rollback.kind, lambda c, ns: Rollback(c, ns, args.name))


def start_canary(args, ctx) -> int:
    from console.rollout_actions import StartCanary
    from console.rollouts import parse_percent

    return _mutate(args, ctx, StartCanary.kind,
                   lambda c, ns: StartCanary(c, ns, args.name, args.storage_uri, args.percent),
                   check_input=lambda: parse_percent(args.percent))
