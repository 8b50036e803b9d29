"""`mlops-console triage`: what needs you now, across contexts, critical first (the Now screen's
items, headless). Exit 0 when no item is critical or a warning, 1 otherwise: usable from cron or
a pager hook."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    triage = sub.add_parser(
        "triage", parents=[common],
        help="what needs you now across contexts: failed revisions, failing canaries, failed or slow runs, "
             "drift, unreachable backends (exit 1 when anything is critical or a warning)")
    triage.add_argument("--contexts", metavar="A,B", help="kube contexts to look at (default: the current one and "
                                                          "[triage] contexts of the config)")
    triage.add_argument("--json", action="store_true",
                        help='print [{"severity", "kind", "context", "namespace", "name", "summary", "since"}]')
    triage.set_defaults(func=run)


def contexts_in_scope(args: argparse.Namespace, settings) -> list[str | None]:
    from console.triage import scope_contexts

    if getattr(args, "contexts", None):
        names = [c.strip() for c in args.contexts.split(",") if c.strip()]
        if not names:
            from adapters.errors import InvalidInput

            raise InvalidInput("--contexts needs at least one context name (e.g. --contexts prod-eu,prod-us)")
        return list(dict.fromkeys(names))
    return scope_contexts(settings)


def run(args: argparse.Namespace, ctx) -> int:
    from console.triage import Scope, gather, needs_attention, settings_resolver

    settings_for = settings_resolver(ctx.settings, ctx.flags)
    namespace = None if ctx.settings.all_namespaces else ctx.settings.namespace
    items = gather(settings_for, Scope(contexts_in_scope(args, ctx.settings), namespace))
    if args.json:
        ctx.print_json([item.to_json() for item in items])
    elif not items:
        ctx.print("nothing needs you now")
    else:
        for item in items:
            where = "/".join(p for p in (item.context, item.namespace, item.name) if p)
            ctx.print(f"{item.severity.upper():<8} {item.kind:<19} {where}  {item.summary}"
                      + (f"  (since {item.since})" if item.since else ""))
    return 1 if needs_attention(items) else 0
