"""`mlops-console audit list`: the journal of every attempted change."""

from __future__ import annotations

import argparse

from console.audit import INTENT
from console.cli import positive_int


def register(sub, common) -> None:
    audit = sub.add_parser("audit", parents=[common], help="the audit journal of every attempted change")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True,
                                     parser_class=type(audit))
    listing = audit_sub.add_parser("list", parents=[common], help="list audit rows, newest first")
    listing.add_argument("--limit", type=positive_int, default=None, help="at most N rows")
    listing.add_argument("--target", help="only rows about this target (e.g. fraud/fraud-detector)")
    listing.add_argument("--all", action="store_true", dest="all_rows",
                         help="also the intent rows whose result was written (by default a result row names its intent)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_audit)


def list_audit(args: argparse.Namespace, ctx) -> int:
    rows = ctx.audit.list(limit=args.limit, target=args.target, all_rows=args.all_rows)
    if args.json:
        ctx.print_json([row.to_json() for row in rows])
        return 0
    if not rows:
        ctx.print(f"no audit rows in {ctx.settings.audit}")
        return 0
    for row in rows:
        context = f" in {row.context}" if row.context else ""
        ctx.print(f"{row.ts}  #{row.id:<5} {row.outcome:<20} {row.action:<20} {row.target}  by {row.who}{context}")
        change = row.change()
        if change:
            ctx.print(f"    change: {change}")
        if row.intent_id is not None:
            ctx.print(f"    result of intent #{row.intent_id}")
        elif row.outcome == INTENT and not args.all_rows:
            ctx.print("    no result recorded: check the target's state")
        if row.reason:
            ctx.print(f"    reason: {row.reason}")
        if row.message:
            ctx.print(f"    {row.message}")
    return 0
