"""The `mlops-console` command line.

Global options work before the subcommand and after it, as kubectl's do: every subcommand parser
inherits them from one `common` parent whose defaults are SUPPRESS, so a value given before the
subcommand is not overwritten by the subparser's default.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from adapters.errors import ConsoleError
from console.safe_text import LogFormatter, safe
from console.screen_registry import SCREEN_MODES as SCREEN_NAMES  # light: no Textual

# Command groups, each a module with register(sub, common). Kept as names so that a group's
# heavy imports happen only when its handler runs.
COMMAND_MODULES = (
    "console.commands.catalog",
    "console.commands.rollout",
    "console.commands.runs",
    "console.commands.drift",
    "console.commands.audit",
    "console.commands.sandbox",
    "console.commands.doctor",
    "console.commands.triage",
)
GLOBAL_KEYS = ("config", "catalog", "kubeconfig", "context", "namespace", "all_namespaces",
               "prometheus_url", "kfp_url", "read_only")


class OneLineParser(argparse.ArgumentParser):
    """Bad flags get one line naming the problem and where to look, and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _common_options() -> OneLineParser:
    common = OneLineParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = common.add_argument_group("global options")
    group.add_argument("--config", metavar="FILE", help="config file (default: $XDG_CONFIG_HOME/mlops-console/config.toml)")
    group.add_argument("--catalog", metavar="PATH", help="model catalog SQLite file")
    group.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG)")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context")
    group.add_argument("-n", "--namespace", metavar="NS", help="namespace")
    group.add_argument("-A", "--all-namespaces", action="store_true", dest="all_namespaces", help="all namespaces")
    group.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL")
    group.add_argument("--kfp-url", metavar="URL", help="Kubeflow Pipelines base URL (without /apis/v2beta1)")
    group.add_argument("--read-only", action="store_true", dest="read_only", help="refuse every change")
    return common



class _NotUiOnly(Exception):
    pass


class _UiOnlyParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotUiOnly(message)


def _top_parser(parser_class: type[argparse.ArgumentParser], common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="mlops-console",
        parents=[common],
        description="Keyboard-driven console for the engineer on call for ML models. "
        "With no command it opens the console.",
        add_help=parser_class is not _UiOnlyParser,
    )
    parser.add_argument("--screen", choices=SCREEN_NAMES, default=None,
                        help="the screen the console opens on (default: now)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    from console import __version__

    common = _common_options()
    parser = _top_parser(OneLineParser, common)
    parser.add_argument("--version", action="version", version=f"mlops-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    ui = sub.add_parser("ui", parents=[common], help="open the console (the default)")
    ui.add_argument("--screen", choices=SCREEN_NAMES, default=argparse.SUPPRESS, help="the screen the console opens on")
    ui.set_defaults(func=run_ui)
    demo = sub.add_parser("demo", parents=[common],
                          help="start a local sandbox (cluster, pipelines, metrics, catalog) and open the console on it")
    demo.add_argument("--state-dir", metavar="DIR", help="where the sandbox keeps its files (default: a temporary directory)")
    demo.add_argument("--no-sandbox", action="store_true", help="only the demo catalog, no cluster/pipelines/metrics")
    demo.add_argument("--screen", choices=SCREEN_NAMES, default=argparse.SUPPRESS, help="the screen the console opens on")
    demo.set_defaults(func=run_demo)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that group is not built yet
                continue
            raise
        module.register(sub, common)
    return parser


def parse_ui_only(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The arguments when they only open the console (global options and --screen, no command, no
    --help): parsed without importing and registering every command group, which the console's
    first frame would otherwise wait for. None for anything else (build_parser() parses that)."""
    parser = _top_parser(_UiOnlyParser, _common_options())
    parser.set_defaults(command=None)  # as the full parser's subcommand slot reads with none given
    try:
        args, rest = parser.parse_known_args(argv)
    except _NotUiOnly:
        return None
    return None if rest else args


def _setup_logging() -> str:
    """Log to the state folder's file (0600 in a 0700 folder); returns where the details of an
    unexpected error can be read."""
    from console import paths

    log_file = paths.log_file()
    try:
        paths.create_private(log_file)
        handler: logging.Handler = logging.FileHandler(log_file)
        where = f"details in {log_file}"
    except OSError as exc:
        handler = logging.NullHandler()
        where = f"no log: {log_file} cannot be written ({exc.strerror})"
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request, URL and all
    return where


def run_ui(args: argparse.Namespace, ctx: Any) -> int:
    from console import startup

    startup.collect_rarely()  # until the first frame (the app sets it back)
    from console.app import run_app

    return run_app(ctx, getattr(args, "screen", None) or "now")


def run_demo(args: argparse.Namespace, ctx: Any) -> int:
    from console.demo import run_demo as demo

    return demo(args, ctx)


def main(argv: Sequence[str] | None = None) -> int:
    from console import config
    from console.context import Context

    args = parse_ui_only(argv) or build_parser().parse_args(argv)
    flags = {key: getattr(args, key) for key in GLOBAL_KEYS if hasattr(args, key)}
    where = _setup_logging()
    ctx = None
    try:
        ctx = Context(config.resolve(flags), flags=flags)
        handler = getattr(args, "func", run_ui)
        return int(handler(args, ctx) or 0)
    except ConsoleError as error:
        sys.stderr.write(f"mlops-console: {safe(error.message)}\n")
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("mlops-console: interrupted\n")
        return 130
    except BrokenPipeError:
        return 141
    except Exception as error:  # a bug: one line here, the traceback in the log
        logging.getLogger("mlops-console").exception("unexpected error")
        sys.stderr.write(f"mlops-console: internal error: {type(error).__name__} ({where})\n")
        return 1
    finally:
        if ctx is not None:
            ctx.close()


def positive_int(text: str) -> int:
    """argparse type for counts such as --limit."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value



