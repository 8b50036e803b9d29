"""`mlops-console rollout ...`: KServe canary rollouts from the command line.

    rollout list [-A | -n NS] [--json]
    rollout status NAME [-n NS] [--json] [--wait [--timeout 10m]]   (exit 0 ready / 1 failed / 124 timeout)
    rollout progress NAME -n NS --steps 10,25,50,100 --interval 1m [--window W] [--threshold N]
                     --reason TEXT [--yes] [--dry-run] [--force]   (console/progress_run.py)
    rollout set NAME --percent P        -n NS --reason TEXT [--yes] [--dry-run]
    rollout step NAME (--up | --down) [--step S]   (same flags)
    rollout promote NAME                (same flags)
    rollout rollback NAME               (same flags)
    rollout start-canary NAME --storage-uri URI [--percent P]   (same flags)
    rollout events NAME [-n NS] [--json]
    rollout logs NAME [-n NS] [--revision R] [--container C] [--previous] [--tail N] [--follow]
    (set/step/promote/rollback/start-canary also take --force: act while another console's progress
    holds the InferenceService's Lease, console/lease.py)

Mutating commands go through ctx.run_action (validate -> read-only -> SelfSubjectAccessReview ->
server-side dry-run -> confirm -> patch with a resourceVersion precondition -> audit row).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from console import humanize
from console.commands.output import table
from console.safe_text import safe


def register(sub, common) -> None:
    rollout = sub.add_parser("rollout", parents=[common], help="KServe canary rollouts: list, status, set, promote, rollback")
    rsub = rollout.add_subparsers(dest="rollout_command", metavar="COMMAND", required=True,
                                  parser_class=type(rollout))

    listing = rsub.add_parser("list", parents=[common], help="InferenceServices and their traffic split")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_rollouts)

    status = rsub.add_parser("status", parents=[common], help="one InferenceService: split, conditions, revisions",
                             formatter_class=argparse.RawDescriptionHelpFormatter, epilog=STATUS_EXIT_CODES)
    status.add_argument("name", metavar="NAME")
    status.add_argument("--json", action="store_true", help="print JSON")
    _status_wait_flags(status)
    status.set_defaults(func=show_status)

    def mutating(name: str, help_text: str):
        p = rsub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("name", metavar="NAME")
        p.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal; required to apply)")
        p.add_argument("--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)")
        p.add_argument("--dry-run", action="store_true", dest="dry_run",
                       help="check and show the change (server-side dry run), change nothing")
        p.add_argument("--force", action="store_true",
                       help="act even while another console's progress holds the InferenceService (audited)")
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

    _progress_parser(rsub, common)

    p = mutating("start-canary", "serve another model version as a canary (new storageUri + canaryTrafficPercent)")
    p.add_argument("--storage-uri", metavar="URI", required=True, help="e.g. s3://mlops-models/fraud-detector/v41")
    p.add_argument("--percent", metavar="P", default="10", help="the canary's share, 0..100 (default 10)")
    p.set_defaults(func=start_canary)
    _register_diagnostics(rsub, common)


# ----------------------------------------------------------------------------------------------
# rollout status --wait (issue 12 §1)

STATUS_EXIT_CODES = """with --wait (a gate for CI/CD pipelines), exit codes:
  0    the latest revision is ready and serves its intended share (or all traffic)
  1    the latest revision failed (the condition's message is printed)
  124  --timeout ran out first
  2 bad input, 3 unreachable, 4 forbidden, 5 not found"""
WAIT_POLL = 1.0  # seconds between two reads of the InferenceService while waiting


def _status_wait_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true",
                   help="block until the latest revision is ready and serves its share (exit 0), fails (1) "
                        "or the timeout runs out (124)")
    p.add_argument("--timeout", default=None, metavar="DURATION", help="how long --wait waits (default 10m)")


def wait_status(args: argparse.Namespace, ctx) -> int:
    import time

    from console import progress, rollouts

    timeout = progress.parse_seconds("--timeout", args.timeout or "10m")
    client = kube_client(ctx)
    namespace = _namespace(ctx, client)
    deadline = time.monotonic() + timeout
    said = None
    while True:
        isvc = client.get_inference_service(namespace, args.name)
        state = progress.rollout_state(isvc)
        line = f"{isvc.namespace}/{isvc.name}: {state.text}"
        if state.state == progress.WAITING and line != said and not args.json:
            ctx.print(f"waiting: {line}")
        said = line
        if state.state == progress.READY or state.state == progress.FAILED:
            if args.json:
                ctx.print_json({**rollouts.status(isvc), "rollout": {"state": state.state, "text": state.text}})
            if state.state == progress.FAILED:
                ctx.err.write(f"mlops-console: {line}\n")
                return progress.EXIT_FAILING
            if not args.json:
                ctx.print(line)
            return progress.EXIT_OK
        left = deadline - time.monotonic()
        if left <= 0:
            ctx.err.write(f"mlops-console: timed out after {args.timeout or '10m'} waiting for {line}\n")
            return progress.EXIT_TIMEOUT
        time.sleep(min(WAIT_POLL, left))


# ----------------------------------------------------------------------------------------------
# rollout progress (issue 12 §2, §3)

PROGRESS_EXIT_CODES = """exit codes:
  0    promoted after the last step
  1    rolled back (failed checks reached --threshold, or a step's revision failed)
  10   stopped where it was: still not enough data after --threshold more intervals
  130  interrupted by Ctrl-C, 143 by SIGTERM, 129 by a hang-up: it stays at the current step
  2 bad input, 3 unreachable, 4 forbidden, 6 another console's progress holds it (see --force),
  7 read-only

While it runs it holds the Lease mlops-console-NAME in the namespace (kubectl get lease -n NS):
other consoles' set/step/promote/rollback/progress on it are refused unless --force."""


def _progress_parser(rsub, common) -> None:
    p = rsub.add_parser("progress", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
                        help="step the canary up, checking its health at each step; roll back or promote",
                        epilog=PROGRESS_EXIT_CODES)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--steps", default="10,25,50,100", metavar="LIST",
                   help="rising canary percentages ending at 100 (default 10,25,50,100)")
    p.add_argument("--interval", default="1m", metavar="DURATION", help="time between two checks (default 1m)")
    p.add_argument("--window", default=None, metavar="DURATION",
                   help="window of each check (default: the interval, at least 1m)")
    p.add_argument("--threshold", default=str(2), metavar="N",
                   help="failed checks before a rollback, and extra intervals without data before stopping "
                        "(default 2, as Flagger)")
    p.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal; required to apply)")
    p.add_argument("--yes", "-y", action="store_true", help="start without asking (needed without a terminal)")
    p.add_argument("--dry-run", action="store_true", dest="dry_run", help="print the plan, change nothing")
    p.add_argument("--force", action="store_true",
                   help="take the Lease even while another console's progress holds it (audited)")
    p.set_defaults(func=run_progress)


class PlainReporter:
    """Lines with the time, for logs and pipelines (no terminal)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def line(self, text: str) -> None:
        from datetime import UTC, datetime

        self.ctx.print(f"{datetime.now(UTC).strftime('%H:%M:%SZ')} {text}")

    def step(self, index: int, total: int, percent: int) -> None:
        self.line(f"step {index}/{total}: canaryTrafficPercent {percent}")

    def verdict(self, text: str) -> None:
        pass  # each check is a line already

    def countdown(self, seconds_left: float) -> None:
        pass


class RichReporter(PlainReporter):
    """A Rich progress display on a terminal: the step, the last verdicts, the next judgement."""

    def __init__(self, ctx, total: int):
        super().__init__(ctx)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = Console(file=ctx.out.stream)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[verdict]}"), TextColumn("{task.fields[countdown]}"),
                                 console=self.console, transient=False)
        self.task = self.progress.add_task("starting", total=total, verdict="", countdown="")
        self.progress.start()

    def line(self, text: str) -> None:
        from console.safe_text import safe

        self.progress.console.print(safe(text), markup=False, highlight=False)

    def step(self, index: int, total: int, percent: int) -> None:
        self.progress.update(self.task, completed=index - 1, description=f"step {index}/{total} ({percent}%)")

    def verdict(self, text: str) -> None:
        from console.safe_text import safe

        self.progress.update(self.task, verdict=safe(text)[:60])

    def countdown(self, seconds_left: float) -> None:
        self.progress.update(self.task, countdown=f"next check in {int(seconds_left + 0.999)}s")

    def close(self) -> None:
        self.progress.stop()


def run_progress(args: argparse.Namespace, ctx) -> int:
    import signal
    import threading

    from adapters.errors import Cancelled, ConsoleError, InvalidInput
    from console import progress
    from console.audit import Identity
    from console.commands.drift import drift_service, judge, traffic_of
    from console.lease import LeaseHolder, LeaseLost, holder_identity
    from console.progress_run import Plan, ProgressRun
    from console.rollout_actions import SetCanaryPercent

    steps = progress.parse_steps(args.steps)
    interval = progress.parse_seconds("--interval", args.interval)
    window = args.window or progress.default_window(interval)
    progress.parse_seconds("--window", window)
    threshold = progress.parse_threshold(args.threshold)
    if not args.dry_run and not (args.reason and args.reason.strip()):
        raise InvalidInput("a reason is required for every change: pass --reason TEXT")
    client = kube_client(ctx)
    namespace = _namespace(ctx, client)
    metrics = ctx.client("metrics")  # no Prometheus: refused before anything changes
    service = drift_service(ctx, metrics)
    standard = client.get_inference_service(namespace, args.name).standard_canary
    plan = Plan(namespace, args.name, steps, interval, window, threshold, args.reason, standard)
    for line in plan.lines():
        ctx.err.write(line + "\n")
    first = SetCanaryPercent(client, namespace, args.name, steps[0])
    first.force = args.force
    if args.dry_run:  # the first step through the action path's checks and the server's dry run
        ctx.run_action(first, reason=args.reason, yes=True, dry_run=True)
        ctx.print(f"{namespace}/{args.name}: dry run: the plan above and its first step were checked")
        return 0
    if not args.yes:
        if not ctx.interactive:
            error = InvalidInput("refusing to start a progress without a terminal to confirm on; pass --yes")
            ctx.actions.refuse(first, None, args.reason, error)
            raise error
        ctx.err.write("Start this progress? [y/N] ")
        ctx.err.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            note = ctx.actions.cancel(first, None, args.reason)
            raise Cancelled(f"rollout.progress on {namespace}/{args.name} cancelled; nothing was changed{note}")
    kube_identity = first.actor()
    identity = Identity(ctx.actions.identity.os_user, ctx.actions.identity.ssh_client, kube_identity)
    holder = LeaseHolder(client, namespace, args.name, holder_identity(identity.os_user, kube_identity))
    if ctx.settings.read_only:  # before taking a Lease: the first step would be refused anyway
        ctx.actions.prepare(first, args.reason)
    try:
        holder.acquire(force=args.force)
    except ConsoleError as error:
        ctx.actions.refuse(first, None, args.reason, error)
        raise
    stop = threading.Event()
    got: list[int] = []
    reporter = RichReporter(ctx, len(steps)) if ctx.interactive else PlainReporter(ctx)
    run = ProgressRun(plan, client=client, path=ctx.actions, reporter=reporter, stop=stop, identity=identity,
                      holder=holder, judge=lambda isvc: judge(service, namespace, args.name, traffic_of(isvc), window))

    def on_signal(signum, _frame) -> None:  # only a flag: the run notices it and never advances again
        got.append(signum)
        run.signal_name = run.signal_name or signal.Signals(signum).name
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        if holder.took_over is not None:
            run.note("forced" if args.force else "took over",
                     f"took over the lease {holder.name} from {holder.took_over.holder}", "ProgressTookOver")
        holder.start_renewing()
        try:
            code = run.run()
        except LeaseLost:
            raise  # noted already
        except ConsoleError as error:  # e.g. Prometheus or the API server went away: it stays where it is
            run.note(f"failed: {error.kind}", f"progress stopped at step {run.step_index}: {error.message}",
                     "ProgressStopped", "Warning")
            raise
    finally:
        if isinstance(reporter, RichReporter):
            reporter.close()
        holder.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        return 128 + (got[0] if got else signal.SIGINT)
    return code


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
        hint = "" if namespace is None else "; -A lists every namespace"
        ctx.print(f"no InferenceServices in {where} (context {client.context}){hint}")
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

    if args.wait:
        return wait_status(args, ctx)
    if args.timeout is not None:
        from adapters.errors import InvalidInput

        raise InvalidInput("--timeout only applies with --wait: add --wait, or drop --timeout")

    client = kube_client(ctx)
    isvc = client.get_inference_service(_namespace(ctx, client), args.name)
    data = rollouts.status(isvc)
    not_ready = rollouts.latest_not_ready(isvc)
    pods_say = _pods_say(client, isvc, not_ready) if not_ready else None
    data["pods_say"] = pods_say  # why the not-ready revision's (or canary Deployment's) pods are not ready
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
    if not_ready:
        ctx.print(f"  warning: {not_ready.text} (latest ready: {isvc.latest_ready_revision or 'none'})")
        if pods_say:
            ctx.print(f"           its pods: {pods_say}")
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


def _pods_say(client, isvc, not_ready) -> str | None:
    """What the pods of a not-ready revision say, or why they could not be read (never fatal:
    the status is worth showing without it)."""
    from adapters.errors import ConsoleError
    from console import rollouts

    try:
        return rollouts.pods_say(client.list_pods(isvc.namespace, rollouts.pods_selector(isvc, not_ready)))
    except ConsoleError as error:
        return f"(could not be read: {error.message})"


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
    action = build(client, namespace)
    action.force = bool(getattr(args, "force", False))
    return _run(ctx, args, action)


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


# -- why it is failing: events and logs ------------------------------------------------------------


def _register_diagnostics(rsub: Any, common: argparse.ArgumentParser) -> None:

    events = rsub.add_parser("events", parents=[common],
                             help="Events of an InferenceService and its revisions' pods, newest first")
    events.add_argument("name", metavar="NAME")
    events.add_argument("--json", action="store_true", help="print JSON")
    events.set_defaults(func=show_events)

    logs = rsub.add_parser("logs", parents=[common], help="logs of an InferenceService's predictor pods")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--revision", metavar="R", help="the revision's pods (default: the latest created revision)")
    logs.add_argument("--container", "-c", metavar="C", default="kserve-container",
                      help="the container (default kserve-container; queue-proxy, storage-initializer)")
    logs.add_argument("--previous", "-p", action="store_true", help="the previous instance of a restarted container")
    logs.add_argument("--tail", metavar="N", type=_lines, default=None, help="only the last N lines")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    logs.set_defaults(func=show_logs)


def _lines(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def show_events(args: argparse.Namespace, ctx: Any) -> int:
    from console.diagnostics import age, event_row

    client = kube_client(ctx)
    namespace = _namespace(ctx, client)
    client.get_inference_service(namespace, args.name)  # NotFound (exit 5) when it is not there
    events = client.inference_service_events(namespace, args.name)
    if args.json:
        ctx.print_json([event_row(e) for e in events])
        return 0
    if not events:
        ctx.print(f"no events for {namespace}/{args.name} (Events expire after an hour)")
        return 0
    rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]]
    rows += [[age(e.last_seen), _cell(e.type), _cell(e.reason), e.object, str(e.count or 1), _cell(e.message)]
             for e in events]
    for line in table(rows):
        ctx.print(line)
    return 0


def show_logs(args: argparse.Namespace, ctx: Any) -> int:
    from console.diagnostics import check_container, pods_for_logs

    client = kube_client(ctx)
    namespace = _namespace(ctx, client)
    _revision, pods = pods_for_logs(client, namespace, args.name, args.revision)
    check_container(pods, args.container)
    prefix = len(pods) > 1
    if not args.follow:
        for pod in pods:
            for line in client.stream_log(namespace, pod.name, container=args.container, previous=args.previous,
                                          tail=args.tail):
                ctx.print(f"[{pod.name}] {safe(line)}" if prefix else safe(line))
        return 0
    return _follow(ctx, client, namespace, pods, args, prefix)


def _follow(ctx: Any, client: Any, namespace: str, pods: list[Any], args: argparse.Namespace, prefix: bool) -> int:
    """Follow every pod at once (as kubectl logs -f -l does), until Ctrl-C or every stream ends."""
    import queue
    import threading

    from adapters.errors import ConsoleError

    lines: queue.Queue[tuple[str, str | ConsoleError | None]] = queue.Queue()
    stop = threading.Event()

    def pump(pod: Any) -> None:
        try:
            for line in client.stream_log(namespace, pod.name, container=args.container, previous=args.previous,
                                          tail=args.tail, follow=True, stop_event=stop):
                lines.put((pod.name, line))
        except ConsoleError as error:
            lines.put((pod.name, error))
        finally:
            lines.put((pod.name, None))

    for pod in pods:
        threading.Thread(target=pump, args=(pod,), name=f"logs-{pod.name}", daemon=True).start()
    open_streams = len(pods)
    try:
        while open_streams:
            name, item = lines.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, ConsoleError):
                raise item
            else:
                ctx.print(f"[{name}] {safe(item)}" if prefix else safe(item))
                ctx.out.flush()  # a followed log is read as it comes, through a pipe too
    finally:
        stop.set()
    return 0
