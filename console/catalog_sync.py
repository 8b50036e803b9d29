"""`catalog sync`: the local catalog follows an MLflow Model Registry (no Textual here).

Mapping of an MLflow model version onto a catalog record (the fields `catalog import` takes):

    model, version      the registered model's name, the version number
    description         the version's description, else the registered model's
    tags                "key=value" of the registered model's tags overlaid by the version's, plus
                        "mlflow.stage=Production" when a (legacy) stage is set and
                        "mlflow.status=FAILED_REGISTRATION" when the version is not READY
    author              the version's user_id, else the source run's user
    created_at          creation_timestamp (ms) as ISO 8601 UTC
    hyperparameters     the source run's params (strings, as MLflow keeps them)
    metrics             the source run's latest value of each metric (finite ones)
    artifact_uri        the version's source; a runs:/ source resolved against the run's artifact
                        root, a models:/ source through model-versions/get-download-uri
    run_id              the source run
Aliases come from the registered model (versions in a search carry none).

Incremental: versions and models are listed in full each time (two paged listings), and each
record is compared with the stored one, so an unchanged registry costs two or three requests and
writes nothing. A run is read once it is finished (runs/get; a run still RUNNING is read again
next time), and a models:/ source is resolved once per version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.errors import ConsoleError, InvalidInput, NotFound, ReadOnly
from adapters.mlflow import RUN_FINAL_STATES, MlflowClient, ModelVersion, RegisteredModel, Run, quote_filter

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)
MISSING_RUN = "MISSING"  # runs/get answered 404: remembered as final, so it is not asked again


@dataclass
class RunData:
    status: str | None
    user_id: str | None
    artifact_uri: str | None
    params: dict[str, str]
    metrics: dict[str, float]

    def to_json(self) -> str:
        return json.dumps({"user_id": self.user_id, "artifact_uri": self.artifact_uri, "params": self.params,
                           "metrics": self.metrics}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_run(cls, run: Run | None) -> RunData:
        if run is None:
            return cls(MISSING_RUN, None, None, {}, {})
        return cls(run.status, run.user_id, run.artifact_uri, dict(sorted(run.params.items())),
                   dict(sorted(run.metrics.items())))

    @classmethod
    def from_json(cls, status: str | None, text: str) -> RunData:
        data = json.loads(text)
        return cls(status, data.get("user_id"), data.get("artifact_uri"), data.get("params") or {},
                   data.get("metrics") or {})


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def tag_list(model: RegisteredModel, version: ModelVersion) -> list[str]:
    tags = {**model.tags, **version.tags}
    if version.stage and version.stage != "None":
        tags["mlflow.stage"] = version.stage
    if version.status and version.status != "READY":
        tags["mlflow.status"] = version.status
    return [f"{key}={value}" if value != "" else key for key, value in sorted(tags.items())]


def artifact_uri(version: ModelVersion, run: RunData | None) -> str | None:
    """The version's files, when that needs no request: its source, or a runs:/ source joined to
    the run's artifact root. None for a models:/ source (the server resolves it)."""
    source = version.source
    if not source or source.startswith("models:/"):
        return None
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].partition("/")
        if run is not None and run.artifact_uri and run_id == version.run_id:
            return run.artifact_uri.rstrip("/") + ("/" + path if path else "")
        return None
    return source


def version_record(model: RegisteredModel, version: ModelVersion, run: RunData | None,
                   uri: str | None) -> dict[str, Any]:
    """One catalog record, keys in the catalog's field order (its text is compared between syncs)."""
    record: dict[str, Any] = {"model": version.name, "version": version.version}
    description = version.description or model.description
    if description:
        record["description"] = description
    tags = tag_list(model, version)
    if tags:
        record["tags"] = tags
    author = version.user_id or (run.user_id if run else None)
    if author:
        record["author"] = author
    created = iso_ms(version.creation_ms)
    if created:
        record["created_at"] = created
    if run and run.params:
        record["hyperparameters"] = run.params
    if run and run.metrics:
        record["metrics"] = run.metrics
    if uri:
        record["artifact_uri"] = uri
    if version.run_id:
        record["run_id"] = version.run_id
    return record


def find_renames(known: dict[str, tuple[int | None, bool]], remote: dict[str, RegisteredModel]) -> list[tuple[str, str]]:
    """A model synced before that the registry no longer has, and a model the catalog has never
    seen, with the same creation time (ms): MLflow's rename keeps it. Ambiguous matches are
    left alone (they become a deletion and an addition)."""
    gone: dict[int, list[str]] = {}
    for name, (created, deleted) in known.items():
        if not deleted and created is not None and name not in remote:
            gone.setdefault(created, []).append(name)
    new: dict[int, list[str]] = {}
    for name, model in remote.items():
        if name not in known and model.creation_ms is not None:
            new.setdefault(model.creation_ms, []).append(name)
    return [(names[0], new[created][0]) for created, names in sorted(gone.items())
            if len(names) == 1 and len(new.get(created, ())) == 1]


def sync(catalog: Any, client: MlflowClient, *, models: list[str] | None = None,
         progress: Progress | None = None, now: str | None = None) -> Any:
    """Read the registry, then write what changed in one transaction (catalog.sync_registry).
    Any failure while reading leaves the catalog as it was. Returns the catalog's SyncResult."""
    report = progress or (lambda what, done, total: None)
    registry = client.url
    snapshot = catalog.registry_snapshot(registry)

    remote: dict[str, RegisteredModel] = {}
    versions: list[ModelVersion] = []
    if models:
        for name in dict.fromkeys(models):
            try:
                remote[name] = client.get_registered_model(name)
            except NotFound:
                continue  # gone (a deletion, if it was synced before)
            quoted = quote_filter(name)
            pages = client.search_model_versions(f"name = {quoted}" if quoted else None)
            versions += [v for page in pages for v in page if v.name == name]
            report("versions", len(versions), None)
    else:
        for models_page in client.search_registered_models():
            remote.update((m.name, m) for m in models_page)
            report("models", len(remote), None)
        for versions_page in client.search_model_versions():
            versions += versions_page
            report("versions", len(versions), None)
    # A model registered between the two listings is picked up by the next sync.
    versions = [v for v in versions if v.name in remote]

    runs: dict[str, RunData] = {run_id: RunData.from_json(status, data) for run_id, (status, data)
                                in snapshot.runs.items() if status in RUN_FINAL_STATES or status == MISSING_RUN}
    wanted = [v.run_id for v in versions if v.run_id and v.run_id not in runs]
    total_runs = len(set(wanted))
    fetched = {run_id: RunData.from_run(run) for run_id, run in
               client.get_runs(wanted, on_done=lambda done: report("runs", done, total_runs)).items()}
    runs.update(fetched)

    records = []
    for version in versions:
        run = runs.get(version.run_id) if version.run_id else None
        uri = artifact_uri(version, run)
        if uri is None and version.source:  # models:/ (or a runs:/ whose run is gone): the server resolves it once
            stored = snapshot.versions.get((version.name, version.version))
            uri = stored[1] if stored and stored[1] else client.download_uri(version.name, version.version)
        records.append(version_record(remote[version.name], version, run, uri))
    report("writing", len(records), len(records))
    return catalog.sync_registry(
        registry, models={name: m.creation_ms for name, m in remote.items()}, records=records,
        aliases={name: m.aliases for name, m in remote.items()},
        runs={run_id: (data.status, data.to_json()) for run_id, data in fetched.items()},
        scope=set(models) if models else None,
        renames=find_renames(snapshot.models, remote) if not models else (), now=now,
    )


def sync_and_record(ctx: Any, catalog: Any, client: MlflowClient, *, models: list[str] | None = None,
                    reason: str | None = None, progress: Progress | None = None) -> Any:
    """sync() as the CLI and the Catalog screen run it: refused in read-only mode, and written to
    the audit journal when it changed something or failed (a sync that changed nothing is not)."""
    from console.audit import Identity

    target = str(ctx.settings.catalog)

    def record(outcome: str, after: dict[str, Any], message: str | None = None) -> None:
        try:
            ctx.audit.record(identity=Identity.current(), action="catalog.sync", target=target, outcome=outcome,
                             reason=reason, after={"registry": client.url, "models": models, **after},
                             message=message, context=ctx.settings.context)
        except ConsoleError:
            pass  # the journal's own trouble must not hide the sync's result

    if ctx.settings.read_only:
        error = ReadOnly(f"read-only: catalog sync into {target} refused; the console runs read-only "
                         "(--read-only, MLOPS_CONSOLE_READ_ONLY or the config)")
        record("refused: read-only", {}, error.message)
        raise error
    try:
        result = sync(catalog, client, models=models, progress=progress)
    except ConsoleError as error:
        record("refused: invalid" if isinstance(error, InvalidInput) else f"failed: {error.kind}", {}, error.message)
        raise
    if result.changed:
        record("applied", result.counts())
    return result


def summary(result: Any) -> str:
    """One line for a status bar: what a sync changed."""
    if not result.changed:
        return f"nothing changed ({result.versions_unchanged} versions)"
    counts = result.counts()
    parts = []
    for group, one in (("models", "model"), ("versions", "version"), ("aliases", "alias")):
        for what, n in counts[group].items():
            if n and what != "unchanged":
                parts.append(f"{n} {group if n != 1 else one} {what}")
    return ", ".join(parts)
