"""`mlops-console runs ...`: Kubeflow Pipelines runs from the command line.

    runs list [--state S[,S..]] [--experiment E] [--text T] [--limit N] [--json]
    runs show RUN_ID [--json]
    runs experiments [--json]
    runs terminate RUN_ID --reason TEXT [--yes] [--dry-run]
    runs retry RUN_ID --reason TEXT [--yes] [--dry-run]

The KFP URL comes from --kfp-url / MLOPS_CONSOLE_KFP_URL / kfp_url in the config; auth from the
config's [kfp] section (user_header also from MLOPS_CONSOLE_KFP_USER_HEADER). Multi-user KFP needs a
namespace: -n, the context's namespace, or [kfp] namespace. Terminate and retry go through
ctx.run_action (the safe action path); in multi-user KFP they first ask the cluster's access review.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from console import humanize
from console.cli import positive_int
from console.commands.output import table
from console.safe_text import safe


def register(sub, common) -> None:
    runs = sub.add_parser("runs", parents=[common], help="Kubeflow Pipelines runs: list, show, terminate, retry")
    rsub = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True, parser_class=type(runs))

    listing = rsub.add_parser("list", parents=[common], help="runs, newest first (all pages unless --limit)")
    listing.add_argument("--state", metavar="S", help="only runs in state S (comma-separated for several), "
                                                      "e.g. FAILED or RUNNING,PENDING")
    listing.add_argument("--experiment", metavar="E", help="only runs of experiment E (name or id)")
    listing.add_argument("--text", metavar="T", help="only runs whose name contains T")
    listing.add_argument("--limit", metavar="N", type=positive_int, help="at most N runs")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=list_runs)

    show = rsub.add_parser("show", parents=[common], help="one run: its error, task tree and state history")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=show_run)

    exps = rsub.add_parser("experiments", parents=[common], help="the experiments runs are grouped in")
    exps.add_argument("--json", action="store_true", help="print a JSON array")
    exps.set_defaults(func=list_experiments)

    for name, help_text, func in (
        ("terminate", "stop a PENDING or RUNNING run (it goes CANCELING, then CANCELED)", terminate_run),
        ("retry", "re-run the failed tasks of a FAILED or CANCELED run", retry_run),
    ):
        p = rsub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("run_id", metavar="RUN_ID")
        p.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal; required)")
        p.add_argument("--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)")
        p.add_argument("--dry-run", action="store_true", dest="dry_run", help="check and show, change nothing")
        p.set_defaults(func=func)


# ---------------------------------------------------------------------------------------------


def pipelines_client(ctx):
    return ctx.client("pipelines")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(seconds: float | None) -> str:
    return humanize.duration(seconds) or "-"


def _states(text: str | None) -> list[str] | None:
    if not text:
        return None
    from adapters.pipelines import run_predicates

    states = [s.strip().upper() for s in text.split(",") if s.strip()]
    run_predicates(states)  # InvalidInput naming the valid states
    return states


def _experiment_id(client, name_or_id: str | None) -> str | None:
    if not name_or_id:
        return None
    from adapters.errors import InvalidInput, NotFound

    try:
        return client.find_experiment(name_or_id).experiment_id
    except NotFound as error:
        raise InvalidInput(error.message) from None


def _experiment_names(client) -> dict[str, str]:
    from adapters.errors import ConsoleError

    try:
        return {e.experiment_id: e.display_name for e in client.list_experiments()}
    except ConsoleError:  # names are a nicety; the runs are what was asked for
        return {}


def collect_runs(client, *, state=None, experiment_id=None, text=None, limit=None, attempts: int = 3) -> list:
    """Every run (or the first `limit`), starting again when the server drops a page token midway."""
    from adapters.pipelines import PageTokenExpired

    for attempt in range(attempts):
        try:
            return list(client.iter_runs(page_size=100, state=state, experiment_id=experiment_id, text=text,
                                         limit=limit))
        except PageTokenExpired:
            if attempt == attempts - 1:
                raise
    return []


def list_runs(args: argparse.Namespace, ctx) -> int:
    from adapters.pipelines import run_to_json

    states = _states(args.state)
    client = pipelines_client(ctx)
    experiment_id = _experiment_id(client, args.experiment)
    runs = collect_runs(client, state=states, experiment_id=experiment_id, text=args.text, limit=args.limit)
    if args.json:
        ctx.print_json([run_to_json(r) for r in runs])
        return 0
    if not runs:
        ctx.print(f"no runs match at {client.base_url}")
        return 0
    names = _experiment_names(client)
    rows = [["RUN ID", "STATE", "NAME", "EXPERIMENT", "CREATED (UTC)", "DURATION"]]
    for r in runs:
        rows.append([r.run_id, r.state, r.display_name, names.get(r.experiment_id or "", r.experiment_id or "-"),
                     _when(r.created_at), _duration(r.duration())])
    for line in table(rows):
        ctx.print(line)
    return 0


def show_run(args: argparse.Namespace, ctx) -> int:
    from adapters.errors import ConsoleError
    from adapters.pipelines import run_to_json

    client = pipelines_client(ctx)
    run = client.get_run(args.run_id)
    if args.json:
        ctx.print_json(run_to_json(run))
        return 0
    experiment = run.experiment_id or "-"
    if run.experiment_id:
        try:
            experiment = f"{client.get_experiment(run.experiment_id).display_name} ({run.experiment_id})"
        except ConsoleError:
            pass
    finished = f", finished {_when(run.finished_at)}" if run.finished_at else ""
    lines = [
        f"Run         {safe(run.display_name)}",
        f"ID          {run.run_id}",
        f"State       {run.state} (for {_duration(run.duration())}{finished})",
    ]
    if run.failure:
        lines.append(f"Error       {run.failure}")
    lines += [
        f"Experiment  {safe(experiment)}",
        f"Created     {_when(run.created_at)} UTC",
    ]
    if run.description:
        lines.append(f"Description {run.description}")
    if run.parameters:
        lines.append("Parameters  " + safe(", ".join(f"{k}={_param(v)}" for k, v in run.parameters.items())))
    produced = _produced(run)
    if produced:
        lines.append(f"Produces    {safe(produced)}")
    if run.tasks:
        lines += ["", "Tasks"]
        rows = [["STATE", "TASK", "STARTED (UTC)", "DURATION", "POD"]]
        errors: list[tuple[int, str]] = []
        for depth, task in run.task_tree():
            rows.append([task.state, "  " * depth + task.display_name, _when(task.start_time),
                         _duration(task.duration()), task.pod_name or "-"])
            if task.error and task.state in ("FAILED", "CANCELED"):
                errors.append((len(rows) - 1, task.error))
            if task.failed_pods:
                errors.append((len(rows) - 1, "earlier attempts: " + ", ".join(task.failed_pods)))
        task_lines = table(rows)
        extra: dict[int, list[str]] = {}
        for index, text in errors:
            extra.setdefault(index, []).append(text)
        for index, line in enumerate(task_lines):
            lines.append("  " + line)
            for text in extra.get(index, []):
                lines.append("      -> " + text)
    elif not run.has_details or run.state == "PENDING":
        lines += ["", "Tasks       none started yet"]
    if run.state_history:
        lines += ["", "State history"]
        for change in run.state_history:
            lines.append(f"  {_when(change.at)}  {change.state}" + (f"  {change.error}" if change.error else ""))
    for line in lines:
        ctx.print(line)
    return 0


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _produced(run) -> str | None:
    """The catalog version a training run produces (demo convention: model_name + version params)."""
    model = run.parameters.get("model_name")
    version = run.parameters.get("version")
    if isinstance(model, str) and isinstance(version, (str, int)):
        uri = run.parameters.get("output_uri")
        return f"{model} v{version}" + (f" ({uri})" if isinstance(uri, str) else "")
    return None


def list_experiments(args: argparse.Namespace, ctx) -> int:
    from adapters.pipelines import experiment_to_json

    client = pipelines_client(ctx)
    experiments = client.list_experiments()
    if args.json:
        ctx.print_json([experiment_to_json(e) for e in experiments])
        return 0
    if not experiments:
        ctx.print(f"no experiments at {client.base_url}")
        return 0
    rows = [["EXPERIMENT ID", "NAME", "NAMESPACE", "LAST RUN (UTC)"]]
    for e in experiments:
        rows.append([e.experiment_id, e.display_name, e.namespace or "-", _when(e.last_run_created_at)])
    for line in table(rows):
        ctx.print(line)
    return 0


def _mutate(args: argparse.Namespace, ctx, action_class) -> int:
    action = action_class(pipelines_client(ctx), args.run_id, kube=lambda: ctx.client("kube"))
    outcome = ctx.run_action(action, reason=args.reason, yes=args.yes, dry_run=args.dry_run)
    after = outcome.after or {}
    if outcome.status == "applied":
        ctx.print(f"{after.get('display_name', args.run_id)} ({args.run_id}): now {after.get('state', '?')}")
    return 0


def terminate_run(args: argparse.Namespace, ctx) -> int:
    from console.pipeline_actions import TerminateRun

    return _mutate(args, ctx, TerminateRun)


def retry_run(args: argparse.Namespace, ctx) -> int:
    from console.pipeline_actions import RetryRun

    return _mutate(args, ctx, RetryRun)
