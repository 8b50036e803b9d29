"""Issue 8, section 5: text from outside cannot attack the terminal (markup, control characters,
bidi controls) in the TUI and the CLI; section 6: credentials in URLs never reach the log, the
audit journal, stderr or the screen.

The control sequences are the ones xterm documents (ctlseqs: OSC 0 sets the window title, CSI 2 J
erases the display); the bidi controls are Unicode's (UAX #9: U+202A-U+202E, U+2066-U+2069).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.catalog import Catalog
from adapters.redact import redact
from console.app import MlopsConsole
from console.audit import AuditJournal, Identity
from console.cli import main
from console.config import Settings
from console.context import Context
from console.safe_text import json_text, safe

TITLE = "\x1b]0;pwned\x07"  # OSC 0: set the window title
CLEAR = "\x1b[2J"  # CSI 2 J: clear the screen
RLO = "\u202e"  # right-to-left override
LINK = "[link=file:///etc/passwd]x[/link]"
ARTIFACT = "https://deploy:s3cret@models.example/fraud/v3.tar.gz?X-Amz-Signature=abc123"
HOSTILE = [
    {"model": LINK, "version": "1", "description": f"title {TITLE} clear {CLEAR} rlo {RLO}gnp.exe",
     "author": f"mallory{RLO}", "tags": ["[b]bold[/b]"], "artifact_uri": ARTIFACT},
    {"model": "ranker[v2]", "version": "3", "description": "[red]not red[/red]"},
]


def unsafe(ch: str) -> bool:
    """C0 and C1 controls and DEL (category Cc), and the bidi embedding/override/isolate controls."""
    return unicodedata.category(ch) == "Cc" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"


def unescape(text: str) -> str:
    return re.sub(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


# -- the sanitizer, over arbitrary strings ----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text() | st.builds("{}://{}:{}@{}".format, st.text(), st.text(), st.text(), st.text()))
def test_safe_output_has_no_control_or_bidi_character_and_reads_back(text):
    out = safe(text)
    assert not any(unsafe(ch) for ch in out)
    if redact(text) == text:  # (text with a credential in a URL is redacted first)
        if "\\" not in text:  # the escapes are recognisable: they decode back to the original
            assert unescape(out) == text
        if not any(unsafe(ch) for ch in text):  # harmless text is shown exactly as it is
            assert out == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_multiline_keeps_only_newline_and_tab(text):
    out = safe(text, multiline=True)
    assert not any(unsafe(ch) and ch not in "\n\t" for ch in out)
    assert out.count("\n") == text.count("\n") and out.count("\t") == text.count("\t")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=12))
def test_json_for_a_terminal_is_the_same_json_value_with_nothing_a_terminal_obeys(value):
    text = json_text(value, indent=2)
    assert json.loads(text) == value
    assert not any(unsafe(ch) and ch != "\n" for ch in text)


# -- redaction --------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, secrets", [
    ("http://admin:s3cret@prom.example:9090/api/v1/query", ["s3cret"]),
    ("https://ghp_abcdef123456@git.example/x", ["ghp_abcdef123456"]),
    ("http://u:p@ss-w0rd@h:1/a?b=1", ["ss-w0rd", "p@ss"]),
    ("https://h/x?access_token=tok-1&page=2&sig=zz9&X-Amz-Signature=ab12&password=pw7",
     ["tok-1", "zz9", "ab12", "pw7"]),
    ("headers {'Authorization': 'Bearer eyJhbGciOi.xyz'}", ["eyJhbGciOi"]),
    ("Authorization: Basic dXNlcjpwYXNz", ["dXNlcjpwYXNz"]),
])
def test_redact_removes_credentials_and_keeps_the_rest(url, secrets):
    out = redact(url)
    assert not any(s in out for s in secrets)
    assert "<redacted>" in out
    host = re.search(r"@([\w.-]+)[:/][^@]*$", url)  # the host follows the last '@' 
    if host:
        assert host.group(1) in out  # where it points stays readable
    if "page=2" in url:
        assert "page=2" in out


@settings(max_examples=200, deadline=None)
@given(user=st.text(alphabet=string.ascii_letters, min_size=1, max_size=8),
       secret=st.text(alphabet=string.digits + "!$%*:@", min_size=4, max_size=20))
def test_redact_removes_any_password_and_token_from_a_url(user, secret):
    out = redact(f"Prometheus at http://{user}:{secret}@prom.example:9090/api?access_token={secret}&q=up failed")
    assert secret not in out
    assert f"http://{user}:<redacted>@prom.example:9090/api?access_token=<redacted>&q=up failed" in out


def test_redact_leaves_ordinary_text_alone():
    for text in ("Prometheus at http://127.0.0.1:9090 is not reachable", "model ranker[v2] key=value",
                 "mail ana@example.com", "s3://mlops-models/fraud-detector/v2",
                 "https://kfp.example/runs?author=ana&sort_by=created_at&page=2",
                 "cannot read the Prometheus bearer token file /run/secrets/prom-token"):
        assert redact(text) == text


# -- the TUI --------------------------------------------------------------------------------------

def hostile_catalog(path: Path) -> Path:
    with Catalog(path, create=True) as catalog:
        catalog.import_records(HOSTILE, source="test")
    return path


def screen_lines(app) -> list[str]:
    """What the terminal is sent, line by line: the text of every rendered segment."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen did not reach the expected state in time")


async def test_hostile_catalog_is_shown_literally_and_sends_nothing_a_terminal_obeys(tmp_path):
    settings = Settings(catalog=hostile_catalog(tmp_path / "catalog.db"), audit=tmp_path / "audit.db")
    app = MlopsConsole(Context(settings), cursor_blink=False)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        from textual.widgets import DataTable

        versions = lambda: app.screen.query_one("#versions", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: versions().row_count > 0 and app.screen.model == LINK)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert f"Versions of {LINK}" in text  # the border title, literally
        assert "title \\x1b]0;pwned" in text and "clear \\x1b[2J" in text and "rlo \\u202egnp.exe" in text
        assert not any(unsafe(ch) for ch in text.replace("\n", ""))
        assert "deploy:<redacted>@models.example" in text and "s3cret" not in text and "abc123" not in text
        # the other model: its brackets are not eaten as markup
        await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.model == "ranker[v2]" and versions().row_count > 0)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Versions of ranker[v2]" in text and "[red]not red[/red]" in text
        # a notification carrying the name is literal too
        app.notify(f"Cancelled: nothing was changed on {LINK}{TITLE}.")
        await pilot.pause()
        await wait_for(pilot, lambda: LINK + "\\x1b]0;pwned" in "\n".join(screen_lines(app)))
        assert app.is_running


# -- the CLI --------------------------------------------------------------------------------------

def test_cli_prints_the_escaped_form(tmp_path, capsys):
    catalog = hostile_catalog(tmp_path / "catalog.db")
    assert main(["--catalog", str(catalog), "catalog", "show", f"{LINK}:1"]) == 0
    out = capsys.readouterr().out
    assert "\\x1b]0;pwned\\x07" in out and "\\x1b[2J" in out and "mallory\\u202e" in out
    assert "deploy:<redacted>@models.example" in out and "s3cret" not in out
    assert not any(unsafe(ch) and ch != "\n" for ch in out)
    assert main(["--catalog", str(catalog), "catalog", "list"]) == 0
    out = capsys.readouterr().out
    assert "rlo \\u202egnp.exe" in out and not any(unsafe(ch) and ch != "\n" for ch in out)


def test_cli_json_keeps_the_value_and_escapes_what_a_terminal_would_obey(tmp_path, capsys):
    catalog = hostile_catalog(tmp_path / "catalog.db")
    assert main(["--catalog", str(catalog), "catalog", "show", f"{LINK}:1", "--json"]) == 0
    out = capsys.readouterr().out
    assert not any(unsafe(ch) and ch != "\n" for ch in out)
    record = json.loads(out)
    assert record["author"] == HOSTILE[0]["author"] and record["description"] == HOSTILE[0]["description"]
    assert record["artifact_uri"] == ARTIFACT  # JSON is data for scripts: exact


# -- credentials: log, audit, stderr, status line ---------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kfp_with_password(tmp_path, monkeypatch):
    from console.sandbox.kfp_server import KfpSandbox

    sandbox = KfpSandbox(tmp_path / "kfp", n_runs=5, seed=7)
    sandbox.start()
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", sandbox.base_url.replace("http://", "http://admin:s3cret@"))
    yield sandbox
    sandbox.stop()


def log_text() -> str:
    from console import paths

    logging.getLogger().handlers[0].flush()
    log = paths.state_dir() / "mlops-console.log"
    return log.read_text() if log.exists() else ""


def test_log_lines_never_carry_a_password(kfp_with_password, capsys):
    assert main(["runs", "list", "--json"]) == 0  # reachable: httpx logs every request at INFO
    assert len(json.loads(capsys.readouterr().out)) == 5
    logging.getLogger("adapters.test").warning("retrying http://admin:s3cret@kfp:8888/apis?token=t0k")
    logging.getLogger("adapters.test").warning("model %s", LINK + TITLE)  # `tail -f` shows the log too
    text = log_text()
    assert "retrying http://admin:<redacted>@kfp:8888/apis?token=<redacted>" in text
    assert "s3cret" not in text and "t0k" not in text
    assert f"model {LINK}\\x1b]0;pwned\\x07" in text and not any(unsafe(ch) and ch != "\n" for ch in text)


def test_cli_error_quoting_the_server_is_escaped_and_redacted(kfp_with_password, capsys):
    # An id carrying controls never reaches the server: it is bad input, named escaped.
    assert main(["runs", "show", f"nope{RLO}\x85"]) == 2
    err = capsys.readouterr().err
    assert "run id 'nope\\u202e\\x85' is not valid" in err
    assert not any(unsafe(ch) and ch != "\n" for ch in err)
    # A printable id the server quotes back (KFP's 404 repeats it) is shown literally, the URL redacted.
    assert main(["runs", "show", "nope[red]x"]) == 5
    err = capsys.readouterr().err
    assert "Run nope[red]x not found" in err and "admin:<redacted>@" in err
    assert not any(unsafe(ch) and ch != "\n" for ch in err) and "s3cret" not in err


def test_stderr_and_audit_row_never_carry_a_password(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", f"http://admin:s3cret@127.0.0.1:{free_port()}")
    audit = tmp_path / "audit.db"
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(audit))
    code = main(["runs", "terminate", "run-1", "--reason", "stuck", "--yes"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "admin:<redacted>@127.0.0.1" in err and "s3cret" not in err
    rows = AuditJournal(audit).list()
    assert rows and "s3cret" not in json.dumps([r.to_json() for r in rows])
    assert "s3cret" not in log_text()


def test_audit_fields_are_scrubbed_of_urls_with_credentials(tmp_path):
    journal = AuditJournal(tmp_path / "audit.db")
    uri = "https://deploy:s3cret@models.example/fraud/v3?sig=abc123"
    journal.record(identity=Identity("ana", None), action="rollout.start_canary", target="fraud/fraud-detector",
                   outcome="applied", before={"storageUri": "s3://m/v2"}, after={"storageUri": uri})
    row = journal.list()[0]
    assert row.after["storageUri"].startswith("https://deploy:<redacted>@models.example/fraud/v3")
    assert "s3cret" not in json.dumps(row.to_json()) and "abc123" not in json.dumps(row.to_json())
    journal.close()


async def test_status_line_never_shows_a_password(tmp_path):
    settings = Settings(catalog=hostile_catalog(tmp_path / "catalog.db"), audit=tmp_path / "audit.db",
                        prometheus_url=f"http://admin:s3cret@127.0.0.1:{free_port()}")
    app = MlopsConsole(Context(settings), cursor_blink=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: getattr(app.screen, "state", None) is not None)
        await pilot.pause()
        status = str(app.screen.query_one("#drift-status").render())
        assert "admin:<redacted>@127.0.0.1" in status
        assert "s3cret" not in "\n".join(screen_lines(app))


# -- the screens every later screen is built on -----------------------------------------------------

async def test_status_line_and_state_banner_show_outside_text_literally_and_redacted():
    from textual.app import App

    from screens.base import StateBanner, StatusLine

    class Lines(App):
        def compose(self):
            yield StateBanner(id="banner")
            yield StatusLine(id="status")

    app = Lines()
    async with app.run_test(size=(160, 6)) as pilot:
        hostile = f"KFP at http://admin:s3cret@kfp:8888 says run {LINK}{TITLE}{RLO} failed"
        app.query_one(StateBanner).show(hostile)
        app.query_one(StatusLine).say(hostile, error=True)
        await pilot.pause()
        lines = screen_lines(app)
        expected = f"KFP at http://admin:<redacted>@kfp:8888 says run {LINK}\\x1b]0;pwned\\x07\\u202e failed"
        assert sum(expected in line for line in lines) == 2
        assert not any(unsafe(ch) for line in lines for ch in line) and "s3cret" not in "".join(lines)


def test_doctor_window_shows_check_details_literally_and_redacted():
    from console.doctor import CheckResult
    from screens.doctor import render_results

    text = render_results([CheckResult("prometheus", "fail", f"http://admin:s3cret@prom:9090 {CLEAR} down",
                                       fix=f"set prometheus_url{TITLE}")]).plain
    assert "http://admin:<redacted>@prom:9090 \\x1b[2J down" in text and "prometheus_url\\x1b]0;pwned\\x07" in text
    assert not any(unsafe(ch) and ch != "\n" for ch in text) and "s3cret" not in text


async def test_a_jump_to_a_hostile_model_fills_the_filter_without_a_control_character(tmp_path):
    name = f"evil{CLEAR}{RLO}"  # a run's model_name parameter: KFP checks nothing
    settings = Settings(catalog=hostile_catalog(tmp_path / "catalog.db"), audit=tmp_path / "audit.db")
    app = MlopsConsole(Context(settings), cursor_blink=False)
    async with app.run_test(size=(120, 30)) as pilot:
        from textual.widgets import DataTable, Input

        await wait_for(pilot, lambda: app.screen.model == LINK)
        app.show_catalog_version(name, "1")  # as the Pipelines screen's "m" does
        await wait_for(pilot, lambda: app.screen.query_one("#catalog-filter", Input).value == name
                       and app.screen.query_one("#models", DataTable).row_count == 0)
        await pilot.pause()
        lines = screen_lines(app)
        assert any("evil\ufffd[2J\ufffd" in line for line in lines)  # the filter field, same width
        assert not any(unsafe(ch) for line in lines for ch in line)


# -- a hostile Kubeflow Pipelines run -------------------------------------------------------------

@pytest.fixture
def hostile_run(tmp_path, monkeypatch):
    """The KFP sandbox with one run renamed and re-parametrised as an attacker would (KFP checks
    neither), so the names below come over real HTTP."""
    from console.sandbox.kfp_server import KfpSandbox

    sandbox = KfpSandbox(tmp_path / "kfp", n_runs=5, seed=7, time_scale=0.0)
    sandbox.start()
    plan = next(iter(sandbox.world.runs.values()))
    plan.display_name = f"{LINK}{TITLE}\nState       SUCCEEDED"
    plan.parameters["note"] = f"fine{CLEAR}\nParameters  all good{RLO}"
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", sandbox.base_url)
    yield sandbox, plan.run_id
    sandbox.stop()


def test_runs_show_prints_a_hostile_run_on_its_own_lines_escaped(hostile_run, capsys):
    _, run_id = hostile_run
    assert main(["runs", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert f"Run         {LINK}\\x1b]0;pwned\\x07\\x0aState       SUCCEEDED\n" in out
    assert "note=fine\\x1b[2J\\x0aParameters  all good\\u202e" in out
    assert not any(line.startswith(("State       SUCCEEDED", "Parameters  all good")) for line in out.splitlines())
    assert not any(unsafe(ch) and ch != "\n" for ch in out)


async def test_pipelines_screen_shows_a_hostile_run_literally(hostile_run, tmp_path):
    sandbox, run_id = hostile_run
    settings = Settings(catalog=hostile_catalog(tmp_path / "catalog.db"), audit=tmp_path / "audit.db",
                        kfp_url=sandbox.base_url)
    app = MlopsConsole(Context(settings), cursor_blink=False)
    async with app.run_test(size=(120, 30)) as pilot:
        app.selected_run_id = run_id  # as a jump from another screen asks for it
        await pilot.press("2")
        await wait_for(pilot, lambda: getattr(getattr(app.screen, "detail_run", None), "run_id", None) == run_id)
        await pilot.pause()
        lines = screen_lines(app)
        assert any(f"Run detail · {LINK}\\x1b]0;pwned" in line for line in lines)  # the border title
        assert not any(unsafe(ch) for line in lines for ch in line)
        assert app.is_running


def test_rollouts_detail_shows_a_hostile_inference_service_literally_and_redacted():
    """storageUri and condition messages are free text in the InferenceService (KServe's CRD gives
    them no pattern), so the detail view draws them literally."""
    from adapters.kube import parse_inference_service
    from screens import rollouts_render as render

    obj = {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "fraud-detector", "namespace": "fraud", "resourceVersion": "12"},
        "spec": {"predictor": {"model": {"storageUri": f"https://deploy:s3cret@models.example/v3{CLEAR}"}}},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": f"Bad{RLO}",
                                   "message": f"pulling {LINK}{TITLE} failed"}]},
    }
    text = render.detail(parse_inference_service(obj), catalog={}).plain
    assert "https://deploy:<redacted>@models.example/v3\\x1b[2J" in text
    assert "Bad\\u202e" in text and f"pulling {LINK}\\x1b]0;pwned\\x07 failed" in text
    assert not any(unsafe(ch) and ch != "\n" for ch in text) and "s3cret" not in text
