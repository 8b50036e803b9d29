"""`mlops-console catalog ...`: the model catalog from the command line.

    catalog import FILE [--reason TEXT] [--json]        JSON array or JSON Lines of version records
    catalog list [--filter TEXT] [--limit N] [--offset N] [--json]
    catalog show MODEL [--sort KEY] [--ascending] [--limit N] [--json]
    catalog show MODEL:VERSION [--json]
    catalog alias MODEL:VERSION ALIAS --reason TEXT [--yes] [--dry-run]
    catalog alias MODEL[:VERSION] ALIAS --delete --reason TEXT [--yes] [--dry-run]
    catalog sync [--mlflow-url URL] [--model NAME ...] [--json]    follow an MLflow Model Registry

A model synced from MLflow takes its alias changes in MLflow (then the catalog follows).

MODEL:VERSION splits on the last ':' (versions never contain one); a model whose own name
contains ':' is shown whole when it exists. Reading commands never create or change a catalog
file (an empty file is refused, untouched); `import` and `alias` create it. `import` and `alias`
are refused in read-only mode and write an audit row.
"""

from __future__ import annotations

import argparse
from typing import Any

from adapters.errors import ConsoleError, InvalidInput, ReadOnly
from console.commands.output import table
from console.safe_text import safe


def register(sub, common) -> None:
    from console.cli import positive_int

    catalog = sub.add_parser("catalog", parents=[common], help="the model catalog: import, list, show, alias")
    csub = catalog.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True,
                                  parser_class=type(catalog))

    imp = csub.add_parser("import", parents=[common],
                          help="import version records from a JSON array or JSON Lines file (idempotent)")
    imp.add_argument("file", metavar="FILE", help="records: model, version (required), aliases, description, tags, "
                     "author, created_at, training_data, hyperparameters, metrics, artifact_uri, framework, "
                     "framework_version, environment, run_id, reference_histograms")
    imp.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal)")
    imp.add_argument("--json", action="store_true", help="print the counts as JSON")
    imp.set_defaults(func=import_records)

    listing = csub.add_parser("list", parents=[common], help="list models with version counts and aliases")
    listing.add_argument("--filter", metavar="TEXT", default=None,
                         help="substring of the name, or words prefixing the description or tags")
    listing.add_argument("--limit", type=positive_int, default=None, help="at most N models")
    listing.add_argument("--offset", type=int, default=0, help="skip the first N models")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_models)

    showp = csub.add_parser("show", parents=[common], help="a model's versions (MODEL) or one version (MODEL:VERSION)")
    showp.add_argument("target", metavar="MODEL[:VERSION]")
    showp.add_argument("--sort", default="created_at", metavar="KEY",
                      help="created_at (default), version, or metric:NAME (e.g. metric:test.auc)")
    showp.add_argument("--ascending", action="store_true", help="oldest / lowest first")
    showp.add_argument("--limit", type=positive_int, default=None, help="at most N versions")
    showp.add_argument("--json", action="store_true", help="print JSON")
    showp.set_defaults(func=show)

    alias = csub.add_parser("alias", parents=[common], help="set or move an alias (e.g. production) to a version")
    alias.add_argument("target", metavar="MODEL:VERSION")
    alias.add_argument("alias", metavar="ALIAS")
    alias.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal)")
    alias.add_argument("--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)")
    alias.add_argument("--dry-run", action="store_true", dest="dry_run", help="show the change, change nothing")
    alias.add_argument("--delete", action="store_true",
                       help="remove the alias (with MODEL:VERSION: only if it points at that version)")
    alias.set_defaults(func=set_alias)

    syncp = csub.add_parser("sync", parents=[common],
                            help="make the catalog follow an MLflow Model Registry (incremental, all or nothing)")
    syncp.add_argument("--mlflow-url", metavar="URL", dest="mlflow_url",
                       help="the MLflow tracking server (default: [catalog.mlflow] url, MLOPS_CONSOLE_MLFLOW_URL, "
                       "MLFLOW_TRACKING_URI); credentials from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/_PASSWORD")
    syncp.add_argument("--model", metavar="NAME", action="append", dest="models",
                       help="only this registered model (repeatable)")
    syncp.add_argument("--reason", metavar="TEXT", help="why (written to the audit journal when something changed)")
    syncp.add_argument("--json", action="store_true", help="print the counts as JSON")
    syncp.set_defaults(func=sync_registry)


# ----------------------------------------------------------------------------------------------
# helpers


def _open(ctx, *, create: bool = False):
    from adapters.catalog import Catalog

    return Catalog(ctx.settings.catalog, create=create)


def clean(value: Any) -> str:
    """User text for one line of a terminal (console.safe_text.safe), '-' for nothing."""
    return "-" if value is None else safe(value)


def _short(value: Any, width: int) -> str:
    text = clean(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(text: str | None) -> str:
    if not text:
        return "-"
    return clean(text.replace("T", " ").replace("Z", "")[:16])


def _aliases_text(aliases: dict[str, str]) -> str:
    return " ".join(f"{clean(a)}={clean(v)}" for a, v in sorted(aliases.items())) or "-"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return clean(value)


def split_target(catalog, target: str) -> tuple[str, str | None]:
    """(model, version or None). Splits on the last ':' unless the whole text names a model."""
    if not target.strip():
        raise InvalidInput("MODEL[:VERSION] is empty")
    if ":" not in target or catalog.has_model(target):
        return target, None
    model, _, version = target.rpartition(":")
    if not model or not version:
        raise InvalidInput(f"{target!r} is not MODEL or MODEL:VERSION")
    return model, version


def _audit(ctx, *, action: str, target: str, outcome: str, reason: str | None, after: Any = None,
           message: str | None = None) -> None:
    try:
        from console.audit import Identity

        ctx.audit.record(identity=Identity.current(), action=action, target=target, outcome=outcome,
                         reason=reason, after=after, message=message, context=ctx.kube_context)
    except ConsoleError as error:  # the journal's own trouble must not hide the import's result
        ctx.err.write(f"mlops-console: warning: no audit row written: {error.message}\n")


# ----------------------------------------------------------------------------------------------
# handlers


def import_records(args: argparse.Namespace, ctx) -> int:
    target = str(ctx.settings.catalog)
    if ctx.settings.read_only:
        error = ReadOnly(f"read-only: catalog import into {target} refused; the console runs read-only "
                         "(--read-only, MLOPS_CONSOLE_READ_ONLY or the config)")
        _audit(ctx, action="catalog.import", target=target, outcome="refused: read-only", reason=args.reason,
               after={"file": args.file}, message=error.message)
        raise error
    try:
        with _open(ctx, create=True) as catalog:
            result = catalog.import_file(args.file)
    except ConsoleError as error:
        outcome = "refused: invalid" if isinstance(error, InvalidInput) else f"failed: {error.kind}"
        _audit(ctx, action="catalog.import", target=target, outcome=outcome, reason=args.reason,
               after={"file": args.file}, message=error.message)
        raise
    counts = {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged}
    _audit(ctx, action="catalog.import", target=target, outcome="applied", reason=args.reason,
           after={"file": args.file, **counts})
    if args.json:
        ctx.print_json({"file": args.file, "catalog": target, **counts})
    else:
        ctx.print(f"imported {clean(args.file)} into {clean(target)}: {result.inserted} inserted, "
                  f"{result.updated} updated, {result.unchanged} unchanged")
    return 0


def list_models(args: argparse.Namespace, ctx) -> int:
    with _open(ctx) as catalog:
        models = catalog.list_models(args.filter, offset=args.offset, limit=args.limit)
        total = catalog.count_models(args.filter)
    if args.json:
        ctx.print_json([m.to_json() for m in models])
        return 0
    matching = f" matching {args.filter!r}" if args.filter else ""
    if not models:
        ctx.print(f"no models{clean(matching)} in {clean(ctx.settings.catalog)}")
        return 0
    rows = [["MODEL", "VERSIONS", "LATEST", "CREATED", "ALIASES", "FRAMEWORK", "DESCRIPTION"]]
    for m in models:
        rows.append([clean(m.model), str(m.versions), clean(m.latest_version), _when(m.latest_created_at),
                     _aliases_text(m.aliases), clean(m.framework), _short(m.description, 60)])
    for line in table(rows):
        ctx.print(line)
    shown = f"{len(models)} of {total}" if len(models) != total else str(total)
    ctx.print(f"{shown} model{'s' if total != 1 else ''}{clean(matching)}")
    return 0


def show(args: argparse.Namespace, ctx) -> int:
    with _open(ctx) as catalog:
        model, version = split_target(catalog, args.target)
        if version is not None:
            record = catalog.get_version(model, version)
            if args.json:
                ctx.print_json(record.to_record())
            else:
                _print_version(ctx, record)
            return 0
        summary = catalog.get_model(model)
        metrics = catalog.metric_names(model)
        if args.sort.startswith("metric:") and args.sort[7:] not in metrics:
            known = ", ".join(metrics) or "none"
            raise InvalidInput(f"model {model} has no metric {args.sort[7:]!r} to sort by; its metrics: {known}")
        versions = catalog.list_versions(model, sort=args.sort, descending=not args.ascending, limit=args.limit)
    if args.json:
        ctx.print_json({**summary.to_json(), "versions": [v.to_record() for v in versions],
                        "count": summary.versions})
        return 0
    ctx.print(f"model:       {clean(summary.model)}  ({summary.versions} versions, {clean(summary.framework)})")
    ctx.print(f"description: {clean(summary.description)}")
    ctx.print(f"tags:        {', '.join(clean(t) for t in summary.tags) or '-'}")
    ctx.print(f"aliases:     {_aliases_text(summary.aliases)}")
    ctx.print("")
    columns = _metric_columns(metrics, args.sort)
    rows = [["VERSION", "CREATED", "AUTHOR", "ALIASES", *columns]]
    for v in versions:
        flat = v.flat_metrics()
        rows.append([clean(v.version), _when(v.created_at), clean(v.author), ",".join(clean(a) for a in v.aliases) or "-",
                     *[_number(flat.get(c)) for c in columns]])
    for line in table(rows):
        ctx.print(line)
    if len(versions) < summary.versions:
        ctx.print(f"{len(versions)} of {summary.versions} versions")
    return 0


def _metric_columns(metrics: list[str], sort: str) -> list[str]:
    preferred = ([m for m in metrics if m.startswith("test.")] or [m for m in metrics if "." not in m]
                 or list(metrics))[:3]
    if sort.startswith("metric:"):
        chosen = sort[7:]
        preferred = [chosen] + [m for m in preferred if m != chosen][:2]
    return preferred


def _print_version(ctx, v) -> None:
    out = ctx.print
    out(f"{clean(v.model)}:{clean(v.version)}")
    fields = [
        ("aliases", ", ".join(clean(a) for a in v.aliases) or "-"),
        ("description", clean(v.description)),
        ("tags", ", ".join(clean(t) for t in v.tags) or "-"),
        ("author", clean(v.author)),
        ("created_at", clean(v.created_at)),
        ("framework", f"{clean(v.framework)} {clean(v.framework_version) if v.framework_version else ''}".rstrip()),
        ("artifact_uri", clean(v.artifact_uri)),
        ("run_id", clean(v.run_id)),
    ]
    for name, value in fields:
        out(f"  {name + ':':<17}{value}")
    if v.training_data:
        out("  training_data:")
        for key, value in v.training_data.items():
            out(f"    {clean(key) + ':':<15}{_number(value)}")
    for title, mapping in (("environment", v.environment), ("hyperparameters", v.hyperparameters)):
        if mapping:
            out(f"  {title}:")
            for key, value in mapping.items():
                out(f"    {clean(key) + ':':<22}{_number(value)}")
    if v.metrics:
        out("  metrics:")
        flat = {k: val for k, val in v.metrics.items() if not isinstance(val, dict)}
        splits = {k: val for k, val in v.metrics.items() if isinstance(val, dict)}
        for key, value in flat.items():
            out(f"    {clean(key) + ':':<22}{_number(value)}")
        if splits:
            names = sorted({n for s in splits.values() for n in s})
            rows = [["", *[clean(n) for n in names]]]
            for split, values in splits.items():
                rows.append([clean(split), *[_number(values.get(n)) for n in names]])
            for line in table(rows):
                out("    " + line)
    if v.reference_histograms:
        out("  reference_histograms:")
        for feature, hist in v.reference_histograms.items():
            edges, counts = hist.get("edges", []), hist.get("counts", [])
            out(f"    {clean(feature) + ':':<22}{len(counts)} bins over [{_number(edges[0])}, {_number(edges[-1])}], "
                f"{_number(sum(counts))} rows")


def set_alias(args: argparse.Namespace, ctx) -> int:
    from console.catalog_actions import RemoveAlias, SetAlias, registry_for

    with _open(ctx, create=True) as catalog:
        model, version = split_target(catalog, args.target)
        if args.delete:
            action: Any = RemoveAlias(catalog, model, args.alias, version, registry=registry_for(ctx.settings))
        elif version is None:
            raise InvalidInput(f"{args.target!r}: give the version as MODEL:VERSION (or --delete to remove the alias)")
        else:
            action = SetAlias(catalog, model, args.alias, version, registry=registry_for(ctx.settings))
        outcome = ctx.run_action(action, reason=args.reason, yes=args.yes, dry_run=args.dry_run)
    if getattr(outcome, "status", None) == "applied":
        where = f" (in MLflow at {clean(action.source)})" if action.source else ""
        ctx.print(f"{clean(model)} alias {clean(args.alias)} {'removed' if args.delete else '-> ' + clean(version)}{where}")
        lag = outcome.after.get("catalog")
        if lag:
            ctx.err.write(f"mlops-console: warning: the change is in MLflow but the local catalog was {clean(lag)}\n")
    return 0


class _ProgressBar:
    """One line on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream):
        self.stream, self.last = stream, 0.0

    def __call__(self, what: str, done: int, total: int | None) -> None:
        import time

        now = time.monotonic()
        if now - self.last < 0.1 and (total is None or done < total):
            return
        self.last = now
        if total:
            filled = 30 * done // max(total, 1)
            text = f"[{'#' * filled}{'-' * (30 - filled)}] {what} {done}/{total}"
        else:
            text = f"reading {what}: {done}"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.last:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def sync_registry(args: argparse.Namespace, ctx) -> int:
    import time

    from console.catalog_sync import sync_and_record
    from console.clients import mlflow_client

    target = str(ctx.settings.catalog)
    client = mlflow_client(ctx.settings, args.mlflow_url or ctx.settings.mlflow.url)
    # the bar draws with \r and ESC [ K itself: on the raw stream, past the output sanitizer
    bar = (_ProgressBar(getattr(ctx.err, "stream", ctx.err))
           if not args.json and getattr(ctx.err, "isatty", lambda: False)() else None)
    started = time.monotonic()
    try:
        with client, _open(ctx, create=not ctx.settings.read_only) as catalog:
            result = sync_and_record(ctx, catalog, client, models=args.models, reason=args.reason, progress=bar)
    finally:
        if bar:
            bar.clear()
    seconds = round(time.monotonic() - started, 2)
    counts = result.counts()
    if args.json:
        ctx.print_json({"registry": client.url, "catalog": target, "changed": result.changed, **counts,
                        "renamed": [list(pair) for pair in result.models_renamed],
                        "aliases_changed": result.aliases_added + result.aliases_moved + result.aliases_deleted,
                        "skipped_records": result.skipped, "seconds": seconds})
        return 0
    head = f"synced MLflow at {clean(client.url)} into {clean(target)} in {seconds:g} s"
    if not result.changed:
        ctx.print(f"{head}: nothing changed ({result.versions_unchanged} versions)")
    else:
        m, v, a = counts["models"], counts["versions"], counts["aliases"]
        ctx.print(head)
        ctx.print(f"  models:   {m['added']} added, {m['changed']} changed, {m['deleted']} deleted, {m['renamed']} renamed")
        ctx.print(f"  versions: {v['added']} added, {v['changed']} changed, {v['deleted']} deleted, "
                  f"{v['unchanged']} unchanged")
        ctx.print(f"  aliases:  {a['added']} added, {a['moved']} moved, {a['deleted']} deleted")
        details = ([f"renamed {old} -> {new}" for old, new in result.models_renamed]
                   + [f"deleted in MLflow: {name}" for name in result.models_deleted]
                   + result.aliases_moved + result.aliases_added + result.aliases_deleted)
        for line in details[:20]:
            ctx.print(f"    {clean(line)}")
        if len(details) > 20:
            ctx.print(f"    ... and {len(details) - 20} more")
    for line in result.skipped:
        ctx.err.write(f"mlops-console: warning: skipped {clean(line)}\n")
    return 0


__all__ = ["register", "split_target", "clean", "table"]
