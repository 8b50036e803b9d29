"""`mlops-console doctor`: what this install gives the console and what it lacks."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    doctor = sub.add_parser("doctor", parents=[common],
                            help="check what the cluster, Kubeflow Pipelines, Prometheus and the local files give "
                                 "the console (exit 0 when nothing failed, 1 otherwise)")
    doctor.add_argument("--json", action="store_true",
                        help='print [{"check", "status", "detail", "fix"}] instead of lines')
    doctor.set_defaults(func=run)


def run(args: argparse.Namespace, ctx) -> int:
    from console.doctor import failed, run_doctor

    results = run_doctor(ctx.settings)
    if args.json:
        ctx.print_json([r.to_json() for r in results])
    else:
        width = max(len(r.check) for r in results)
        for r in results:
            ctx.print(f"{r.status:<4}  {r.check:<{width}}  {r.detail}")
            if r.status != "ok" and r.fix:
                ctx.print(f"{'':<4}  {'':<{width}}  fix: {r.fix}")
    return 1 if failed(results) else 0
