"""`mlops-console doctor` against the sandbox: every check tells the truth about its backend, first
with everything there, then with each piece missing or wrong (a test per check)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from console import cli
from console.sandbox.runner import Sandbox

PIECES = ("kubernetes: reachable", "kubernetes: InferenceService CRD", "kubernetes: read InferenceServices",
          "kubernetes: change InferenceServices", "kubernetes: create Events",
          "kubernetes: Kubeflow Pipelines run verbs", "kfp: reachable", "kfp: mode", "kfp: auth",
          "prometheus: reachable", "prometheus: request metrics", "prometheus: feature histograms", "catalog: readable",
          "audit: writable")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Every backend: cluster, KFP, a real Prometheus with history, the demo catalog."""
    sb = Sandbox(tmp_path_factory.mktemp("doctor"), ready_delay=0.05)
    sb.start()
    yield sb
    sb.stop()


def doctor(capsys, sb: Sandbox | None, *extra: str, audit: Path | None = None) -> tuple[int, dict[str, dict]]:
    argv = ["doctor", "--json"]
    if sb is not None:
        argv += ["--kubeconfig", str(sb.kubeconfig_path), "--catalog", str(sb.endpoints["catalog"])]
        if sb.endpoints.get("kfp_url"):
            argv += ["--kfp-url", sb.endpoints["kfp_url"]]
        if sb.endpoints.get("prometheus_url"):
            argv += ["--prometheus-url", sb.endpoints["prometheus_url"]]
    code = cli.main([*argv, *extra])
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert all(set(r) == {"check", "status", "detail", "fix"} for r in rows)
    assert all(r["status"] in ("ok", "warn", "fail") and (r["status"] == "ok" or r["fix"]) for r in rows)
    return code, {r["check"]: r for r in rows}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_standard_mode_predictors_are_found_by_deployment(full, capsys):
    """The demo's Standard-mode canary (issue 13): no revisions, its predictors' series are keyed
    by Deployment, and the doctor names them."""
    code, checks = doctor(capsys, full, "-n", "marketing")
    detail = checks["prometheus: request metrics"]["detail"]
    assert code == 0 and "series for marketing/ad-ctr" in detail
    assert detail.endswith("Standard-mode predictors by Deployment: marketing/ad-ctr-predictor, marketing/ad-ctr-v30-predictor")


def test_everything_there_is_ok_and_exits_0(full, capsys):
    code, checks = doctor(capsys, full, "-n", "fraud")
    assert code == 0
    assert list(checks) == list(PIECES)
    assert {name: c["status"] for name, c in checks.items()} == {name: "ok" for name in PIECES}
    assert "signed in as admin" in checks["kubernetes: reachable"]["detail"]
    assert "fraud/fraud-detector" in checks["prometheus: feature histograms"]["detail"]
    assert checks["prometheus: request metrics"]["detail"].startswith("profile knative: revision_request_count")
    assert "fraud/fraud-detector" in checks["prometheus: request metrics"]["detail"]
    assert "12 models" in checks["catalog: readable"]["detail"]


def test_without_a_namespace_permissions_are_judged_where_the_screens_look(full, capsys):
    """No -n: the screens list every namespace, so the doctor asks for every namespace, not the
    kubeconfig's "default" (walkthrough: it said "namespace default", where no model lives)."""
    code, checks = doctor(capsys, full)
    permission = checks["kubernetes: change InferenceServices"]["detail"]
    assert "all namespaces" in permission and "namespace default" not in permission, permission
    code, checks = doctor(capsys, full, "-n", "fraud")
    assert "namespace fraud" in checks["kubernetes: change InferenceServices"]["detail"]


def test_text_output_names_the_fix(full, capsys):
    code = cli.main(["doctor", "--kubeconfig", str(full.kubeconfig_path), "--context", "sandbox-viewer", "-n", "fraud",
                     "--catalog", str(full.endpoints["catalog"])])
    out = capsys.readouterr().out
    assert code == 0  # warnings only
    lines = out.splitlines()
    i = next(n for n, line in enumerate(lines) if "change InferenceServices" in line)
    assert lines[i].startswith("warn") and "viewer may not patch" in lines[i]
    assert "fix: ask a cluster admin for a Role granting patch" in lines[i + 1]


def test_viewer_may_read_but_not_change_or_record(full, capsys):
    code, checks = doctor(capsys, full, "--context", "sandbox-viewer", "-n", "fraud")
    assert code == 0
    assert checks["kubernetes: read InferenceServices"]["status"] == "ok"
    for name in ("kubernetes: change InferenceServices", "kubernetes: create Events",
                 "kubernetes: Kubeflow Pipelines run verbs"):
        assert checks[name]["status"] == "warn" and "viewer may not" in checks[name]["detail"], name


def test_cluster_unreachable_fails_once_for_the_cluster(full, capsys, tmp_path):
    config = full.kubeconfig_path.read_text().replace(full.endpoints["kube_url"], f"https://127.0.0.1:{closed_port()}")
    dead = tmp_path / "kubeconfig"
    dead.write_text(config)
    code, checks = doctor(capsys, full, "--kubeconfig", str(dead))
    assert code == 1
    assert checks["kubernetes: reachable"]["status"] == "fail"
    assert "not reachable" in checks["kubernetes: reachable"]["detail"] or "refused" in checks["kubernetes: reachable"]["detail"]
    assert not any(name.startswith("kubernetes: ") and name != "kubernetes: reachable" for name in checks)
    assert checks["kfp: reachable"]["status"] == "ok"  # the others are still checked


def test_missing_kubeconfig_is_a_failing_check(capsys, tmp_path):
    code, checks = doctor(capsys, None, "--kubeconfig", str(tmp_path / "nope"), "--catalog", str(tmp_path / "c.db"))
    assert code == 1
    assert checks["kubernetes: kubeconfig"]["status"] == "fail"
    assert "does not exist" in checks["kubernetes: kubeconfig"]["detail"]


def test_no_kserve_crd(full, capsys):
    full.cluster.faults.add(r"^/apis/serving\.kserve\.io/v1beta1$", status=404, times=None)
    try:
        code, checks = doctor(capsys, full)
    finally:
        full.cluster.faults.clear()
    assert code == 1
    crd = checks["kubernetes: InferenceService CRD"]
    assert crd["status"] == "fail" and "is not served" in crd["detail"] and "install KServe" in crd["fix"]
    assert "kubernetes: read InferenceServices" not in checks


def test_kfp_down_and_not_configured(full, capsys):
    code, checks = doctor(capsys, full, "--kfp-url", f"http://127.0.0.1:{closed_port()}")
    assert code == 1 and checks["kfp: reachable"]["status"] == "fail"
    assert "kfp: mode" not in checks
    code, checks = doctor(capsys, None, "--kubeconfig", str(full.kubeconfig_path))
    assert checks["kfp: configured"]["status"] == "warn" and "kfp_url" in checks["kfp: configured"]["fix"]


def test_kfp_refusing_auth(full, capsys):
    full.kfp.faults.add(r"/runs$", status=401, body={"error": "unauthenticated", "code": 16,
                                                      "message": "Unauthenticated"}, times=None)
    try:
        code, checks = doctor(capsys, full)
    finally:
        full.kfp.faults.clear()
    assert code == 1
    assert checks["kfp: reachable"]["status"] == "ok"
    assert checks["kfp: auth"]["status"] == "fail" and "[kfp]" in checks["kfp: auth"]["fix"]


def test_prometheus_down(full, capsys):
    code, checks = doctor(capsys, full, "--prometheus-url", f"http://127.0.0.1:{closed_port()}")
    assert code == 1
    assert checks["prometheus: reachable"]["status"] == "fail"
    assert "prometheus: feature histograms" not in checks


def test_no_feature_histograms_is_a_warning_naming_the_metric(full, capsys, tmp_path):
    # A Prometheus that answers but holds no feature histograms: every query comes back empty.
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Empty(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"Prometheus Server is Ready.\n" if self.path.startswith("/-/ready") else json.dumps(empty).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path.startswith("/-/ready") else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, checks = doctor(capsys, full, "--prometheus-url", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    feature = checks["prometheus: feature histograms"]
    assert feature["status"] == "warn" and "model_feature_value_bucket" in feature["detail"]
    assert "[metrics] feature_metric" in feature["fix"]
    requests = checks["prometheus: request metrics"]
    assert requests["status"] == "warn" and "revision_request_count" in requests["detail"]
    assert "[metrics]" in requests["fix"]


def test_catalog_missing_and_not_a_catalog(full, capsys, tmp_path):
    code, checks = doctor(capsys, full, "--catalog", str(tmp_path / "none.db"))
    assert checks["catalog: readable"]["status"] == "warn" and "does not exist" in checks["catalog: readable"]["detail"]
    assert not (tmp_path / "none.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE users (id INTEGER)").connection.commit()
    before = other.read_bytes()
    code, checks = doctor(capsys, full, "--catalog", str(other))
    assert code == 1 and checks["catalog: readable"]["status"] == "fail"
    assert other.read_bytes() == before


def test_audit_journal_locked_or_unwritable(full, capsys, tmp_path, monkeypatch):
    journal = tmp_path / "audit.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    holder = sqlite3.connect(journal, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(_config(tmp_path, f'audit = "{journal}"\n')))
        code, checks = doctor(capsys, full)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    audit = checks["audit: writable"]
    assert audit["status"] == "fail" and "locked" in audit["detail"] and str(journal) in audit["detail"]
    assert sqlite3.connect(journal).execute("SELECT count(*) FROM t").fetchone() == (0,)


def _config(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text)
    return path


async def test_palette_doctor_shows_every_check(full, tmp_path):
    from console.app import MlopsConsole
    from console.config import Settings
    from console.context import Context
    from pilot_wait import run_from_palette, wait_for
    from screens.doctor import DoctorScreen

    settings = Settings(catalog=Path(full.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(full.kubeconfig_path), context="sandbox-viewer", namespace="fraud",
                        kfp_url=full.endpoints["kfp_url"], prometheus_url=full.endpoints["prometheus_url"])
    app = MlopsConsole(Context(settings), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_from_palette(pilot, "Doctor")
        await wait_for(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.query("#doctor-results"),
                       what="the doctor screen")
        results = app.screen.query_one("#doctor-results")
        await wait_for(pilot, lambda: "audit: writable" in str(results.render()), what="every check's answer")
        text = str(results.render())
        for name in PIECES:
            assert name in text, name
        assert "WARN kubernetes: change InferenceServices" in text and "viewer may not patch" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DoctorScreen)


@pytest.fixture(scope="module")
def multi_user(tmp_path_factory):
    """Kubeflow Pipelines in multi-user mode (its gateway names the user in a header)."""
    sb = Sandbox(tmp_path_factory.mktemp("doctor-mu"), prometheus=False, catalog=False, kfp_multi_user=True,
                 ready_delay=0.05)
    sb.start()
    yield sb
    sb.stop()


def test_multi_user_kfp_needs_a_namespace_and_a_user(multi_user, capsys, monkeypatch):
    sb = multi_user
    code, checks = doctor(capsys, sb)
    assert code == 1
    mode = checks["kfp: mode"]
    assert mode["status"] == "fail" and "multi-user" in mode["detail"] and "[kfp] namespace" in mode["fix"]
    assert "kfp: auth" not in checks
    code, checks = doctor(capsys, sb, "-n", "recsys")  # a namespace, but no user: the gateway's 401
    assert checks["kfp: mode"]["status"] == "ok" and "namespace recsys" in checks["kfp: mode"]["detail"]
    assert checks["kfp: auth"]["status"] == "fail" and "user_header" in checks["kfp: auth"]["fix"]
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_USER_HEADER", sb.endpoints["kfp_user_header"])
    code, checks = doctor(capsys, sb, "-n", "recsys")
    assert checks["kfp: auth"]["status"] == "ok"
