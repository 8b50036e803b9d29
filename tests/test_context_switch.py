"""Issue 11 §3: switch cluster and namespace without restarting. The palette offers `context NAME`
(from the kubeconfig, as `kubectl config get-contexts` lists them) and `namespace NAME` (from the
cluster, as `kubectl get namespaces`); every screen follows, the header names the new context
first, and the new context's own config section (read-only here) applies at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from console import config
from console.app import MlopsConsole
from console.context import Context
from console.context_switch import kube_contexts, switched
from pilot_wait import run_from_palette, wait_for
from test_rollouts_screen import FRAUD, open_rollouts, select_row, start_sandbox

VIEWER = "sandbox-viewer"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_sandbox(tmp_path_factory.mktemp("switch-sandbox"))
    yield sandbox
    sandbox.stop()


def flags_for(sb, tmp_path: Path) -> dict:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[contexts."{VIEWER}"]\nread_only = true\n')
    return {"config": str(cfg), "kubeconfig": str(sb.kubeconfig_path), "context": sb.endpoints["contexts"]["admin"],
            "catalog": sb.endpoints["catalog"], "audit": str(tmp_path / "audit.db")}


def test_switched_settings_take_the_new_contexts_section(sb, tmp_path):
    flags = flags_for(sb, tmp_path)
    settings = config.resolve(flags)
    assert settings.context == "sandbox-admin" and not settings.read_only
    viewer, viewer_flags = switched(settings, flags, context=VIEWER)
    assert viewer.context == VIEWER and viewer.read_only  # [contexts."sandbox-viewer"] read_only
    assert viewer.catalog == settings.catalog and viewer_flags["context"] == VIEWER
    back, _ = switched(viewer, viewer_flags, context="sandbox-admin")
    assert not back.read_only  # nothing of the viewer context carries over
    fraud, _ = switched(settings, flags, namespace="fraud")
    assert fraud.namespace == "fraud" and not fraud.all_namespaces
    every, _ = switched(fraud, flags, namespace="all")
    assert every.namespace is None and every.all_namespaces
    assert kube_contexts(str(sb.kubeconfig_path)) == sorted(sb.endpoints["contexts"].values())


def header(app) -> str:
    return str(app.screen.query_one("StatusHeader").render())


def rows(app) -> list[str]:
    return [row.key.value for row in app.screen.query_one("#isvcs", DataTable).ordered_rows]


async def test_palette_switches_context_and_namespace_and_every_screen_follows(sb, tmp_path):
    flags = flags_for(sb, tmp_path)
    app = MlopsConsole(Context(config.resolve(flags), flags=flags), cursor_blink=False, first_screen="catalog")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app, select=FRAUD)
        before = app.screen
        assert header(app).startswith(" kube: sandbox-admin")
        assert "READ-ONLY" not in header(app)
        namespaces = {key.split("/")[0] for key in rows(app)}
        assert len(namespaces) > 1

        await run_from_palette(pilot, f"context {VIEWER}")
        await wait_for(pilot, lambda: app.screen is not before and app.screen.query("#isvcs")
                       and len(rows(app)) >= 5, what="the Rollouts screen built again on the viewer context")
        assert app.current_mode == "rollouts"
        text = header(app)
        assert text.startswith(f" kube: {VIEWER}") and "READ-ONLY" in text  # first, then the lock
        assert "sandbox-admin" not in text

        # the viewer context's config says read-only: a change is refused and journaled as such
        await select_row(pilot, app, FRAUD)
        await pilot.press("minus")
        await wait_for(pilot, lambda: app.services.audit.list(), what="the refusal's audit row")
        [row] = app.services.audit.list()
        assert row.outcome == "refused: read-only" and row.context == VIEWER

        await run_from_palette(pilot, "namespace fraud")
        await wait_for(pilot, lambda: app.screen.query("#isvcs") and rows(app)
                       and {key.split("/")[0] for key in rows(app)} == {"fraud"}, what="only the fraud namespace")
        assert f"{VIEWER}/fraud" in header(app)

        # another screen shown after the switch is built on the new context too
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "catalog" and VIEWER in header(app),
                       what="the Catalog's header on the new context")


def test_the_demo_keeps_its_sandbox_across_a_context_switch(sb, tmp_path, monkeypatch):
    """The demo's kubeconfig, URLs, catalog and journal are not on the command line: a switch that
    resolved settings from the flags alone lost the sandbox (kubeconfig /root/.kube/config)."""
    import argparse

    from console import demo

    endpoints = {**sb.endpoints, "prometheus_url": "http://127.0.0.1:9", "kfp_url": "http://127.0.0.1:8"}
    monkeypatch.setattr(demo, "start_sandbox", lambda state_dir: (None, endpoints))
    seen = {}
    monkeypatch.setattr("console.app.run_app", lambda ctx, first: seen.setdefault("ctx", ctx) and 0)
    ctx = Context(config.resolve({}), flags={})
    demo.run_demo(argparse.Namespace(state_dir=str(tmp_path), no_sandbox=False, screen=None), ctx)
    viewer, _ = switched(seen["ctx"].settings, seen["ctx"].flags, context=VIEWER)
    assert viewer.context == VIEWER
    assert viewer.kubeconfig == str(sb.kubeconfig_path)
    assert str(viewer.catalog) == sb.endpoints["catalog"] and viewer.audit == tmp_path / "audit.db"
    assert viewer.prometheus_url == "http://127.0.0.1:9" and viewer.kfp_url == "http://127.0.0.1:8"
