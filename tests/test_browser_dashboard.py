"""The dashboard in a real browser: JupyterLab on 127.0.0.1, driven by
Playwright through Debian's chromium (DESIGN section 7).

The rule under test is the book's promise to a self-study reader: open the
notebook, run every cell, crash the active leader with its button, and watch
another leader take over (PMMC section 3.3: a preempted or orphaned leader
moves to a higher ballot and, once a majority adopts it, becomes active).

JupyterLab runs as a child of this test (a free port, a random token, fresh
settings, workspace, config, data and runtime dirs, ``--allow-root`` when
root); chromium is started by the test with a DevTools port and Playwright
connects to it.  Both are stopped by pid in teardown, pass or fail.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "notebooks" / "dashboard.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SEED = 7          # as in the notebook
EVENTS = 300      # as in the notebook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a child we started, by its pid: SIGTERM, then SIGKILL; then the
    rest of its process group (JupyterLab's kernels, chromium's helpers),
    which we also started (it was made a session leader)."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_lab(root_dir: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    """JupyterLab serving ``root_dir`` on 127.0.0.1; returns (process, base
    URL with token).  Every per-user directory is a fresh one under tmp."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    for name in ("JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTER_CONFIG_DIR",
                 "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        d = tmp / name.lower()
        d.mkdir()
        env[name] = str(d)
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root_dir}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return proc, f"{base}/lab/tree/dashboard.ipynb?token={token}"
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError("JupyterLab did not start:\n"
                               + (tmp / "lab.log").read_text(errors="replace")[-3000:])
        time.sleep(0.5)


def start_chromium(tmp: Path) -> tuple[subprocess.Popen, str]:
    """Headless Debian chromium with a DevTools port; returns (process, CDP
    URL).  Started here (not by Playwright) so that teardown has its pid."""
    profile = tmp / "chromium-profile"
    profile.mkdir()
    cmd = [str(CHROMIUM), "--headless=new", "--remote-debugging-address=127.0.0.1",
           "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-first-run",
           "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
           "--window-size=1400,1000", "about:blank"]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    log = open(tmp / "chromium.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError("chromium did not start:\n"
                               + (tmp / "chromium.log").read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    port = port_file.read_text().split()[0]
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def lab_and_browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    lab = chromium = None
    try:
        lab, url = start_lab(root, tmp_path)
        chromium, cdp = start_chromium(tmp_path)
        yield url, cdp, tmp_path
    finally:
        stop(chromium)
        stop(lab)


def expected_takeover():
    """The same session headless: who is active after the notebook's cell,
    and who takes over once it is crashed and the run goes on."""
    from paxos_widgets.session import Session

    import paxos_lit as px

    s = Session(px.SimConfig(), seed=SEED)
    s.run(EVENTS)
    (victim,) = s.active_leaders()
    s.crash(victim)
    s.run_until_decided()
    (heir,) = s.active_leaders()
    assert heir != victim
    return victim, heir


def ballot_svg(page):
    """The inner HTML of the ballot chart (the plot titled "Ballots · seed")."""
    return page.locator(".js-plotly-plot", has_text="Ballots · seed").first.inner_html()


def test_crash_active_leader_in_jupyterlab(lab_and_browser):
    """Run all cells of the dashboard notebook in JupyterLab, click
    ``crash <active leader>`` then ``run until decided``: the ballot chart
    marks the crash and shows another leader active, at a higher ballot
    (PMMC section 3.3; the leader's failure is what lets a passive leader's
    scout succeed)."""
    from playwright.sync_api import expect, sync_playwright

    url, cdp, tmp = lab_and_browser
    victim, heir = expected_takeover()
    with sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(cdp)
        try:
            context = browser.contexts[0] if browser.contexts else browser.new_context()
            page = context.new_page()
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator(".jp-Notebook").first.wait_for()
            # The kernel must be connected before "Run All Cells" does anything:
            # wait for the status bar to say so, not for the toolbar's indicator
            # (idle already while the kernel starts).
            page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()
            page.wait_for_timeout(1000)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
            crash = page.get_by_role("button", name=f"crash {victim}", exact=True)
            crash.wait_for()
            ballots = page.locator(".js-plotly-plot", has_text="Ballots · seed").first
            expect(ballots).to_contain_text(f"seed {SEED}")
            expect(ballots).to_contain_text(f"active leader: {victim}")
            before = ballot_svg(page)
            crash.click()
            expect(ballots).to_contain_text(f"{victim} down")
            page.get_by_role("button", name="run until decided").click()
            expect(ballots).to_contain_text(f"active leader: {heir}", timeout=60_000)
            after = ballot_svg(page)
            assert after != before
            # The invariant banner stayed green and the click was recorded.
            expect(page.get_by_text("invariants hold")).to_be_visible()
            page.screenshot(path=str(tmp / "dashboard.png"), full_page=True)
        finally:
            browser.close()
