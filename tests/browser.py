"""Real-browser test support: the app in a subprocess, headless Chromium through Playwright.

Chromium comes from Debian (``apt-get install chromium``); Playwright never downloads
a browser here. Helpers find a Plotly point's position on the page so a test can
hover or drag exactly where a person would.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, proc: subprocess.Popen, timeout: float, why) -> None:
    """Poll ``url`` until it answers; ``RuntimeError(f"app did not start: {why()}")`` if ``proc`` ends or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app did not start:\n{why()}") from None
            time.sleep(0.3)


def _stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a process started with ``start_new_session=True`` and everything it started."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def _wait_for_redis(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


@contextmanager
def job_backend(tmp: Path, manager: str, env: dict) -> Iterator[dict]:
    """Environment for the app (and its workers) under ``manager``: ``diskcache`` needs nothing;
    ``celery`` starts a private ``redis-server`` on 127.0.0.1 and a Celery worker subprocess, and
    tears both down. Skips when redis-server is not installed (``.ci/run`` installs it)."""
    if manager == "diskcache":
        yield {}
        return
    import shutil

    server = shutil.which("redis-server")
    if not server:
        pytest.skip("no redis-server (apt-get install redis-server)")
    port = free_port()
    redis = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = None
    try:
        _wait_for_redis(port, redis)
        extra = {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        log = open(tmp / "worker.log", "w")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dashboard.worker",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env, **extra},
        )
        yield extra
    finally:
        if worker is not None:
            _stop(worker)
        _stop(redis)


@contextmanager
def running_app(
    tmp: Path,
    *,
    data_dir: Path | None = None,
    env: dict | None = None,
    timeout: float = 90.0,
    manager: str = "diskcache",
    proc_out: list | None = None,
) -> Iterator[str]:
    """Start ``python app.py`` on a free port with its own folders; yield its URL.

    ``manager="celery"`` runs the jobs on a Celery worker through a private Redis (see
    :func:`job_backend`); ``proc_out`` receives the app's ``Popen`` (a test may kill it).
    """
    port = free_port()
    data_dir = data_dir or tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    folders = {
        "LAYERSCOPE_DATA_DIR": str(data_dir),
        "LAYERSCOPE_STORE_DIR": str(tmp / "runs"),
        "LAYERSCOPE_CACHE_DIR": str(tmp / "cache"),
    }
    env = {**folders, **(env or {})}
    with job_backend(tmp, manager, env) as backend:
        log = open(tmp / "app.log", "a")
        cmd = [
            sys.executable,
            str(ROOT / "app.py"),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--store-dir",
            str(tmp / "runs"),
            "--cache-dir",
            str(tmp / "cache"),
        ]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env, **backend},
            start_new_session=True,
        )
        if proc_out is not None:
            proc_out.append(proc)
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until_serving(url, proc, timeout, lambda: (tmp / "app.log").read_text())
            yield url
        except BaseException:
            log.flush()
            print("\n--- app.log (last lines) ---\n" + log_tail(tmp / "app.log"), file=sys.stderr)
            print("\n--- job records ---\n" + job_rows(tmp / "runs" / ".jobs.sqlite"), file=sys.stderr)
            raise
        finally:
            _stop(proc)
            log.close()


def log_tail(path: Path, lines: int = 60) -> str:
    """The app log's last ``lines`` lines that say something: a page polls every few seconds, and the polls
    (answered 200) would push a job's traceback out of what a failed test prints."""
    text = path.read_text(errors="replace").splitlines()
    said = [t for t in text if not re.search(r'"POST /_dash-update-component\S* HTTP/1.1" 200 -$', t)]
    return "\n".join([*said[-lines:], f"({len(text) - len(said)} answered polls left out)"])


def job_rows(path: Path) -> str:
    """Every job record of a store, one line each: what a failed browser test's jobs were doing."""
    import sqlite3

    if not path.exists():
        return "(no job records)"
    with sqlite3.connect(path) as db:
        return "\n".join(" | ".join(map(str, row)) for row in db.execute("SELECT * FROM jobs")) or "(none)"


@contextmanager
def browser_page(width: int = 1500, height: int = 950):
    """A Playwright page in Debian's headless Chromium; skips if either is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            try:
                yield page
            except BaseException:
                print("\n--- the page's text when the test failed ---\n" + page_text(page), file=sys.stderr)
                raise
        finally:
            browser.close()


def page_text(page, limit: int = 4000) -> str:
    """What the page said (job list, status lines, messages): a failed wait names only its condition."""
    try:
        return page.evaluate("() => document.body.innerText")[:limit]
    except Exception as exc:  # the page itself may be what failed
        return f"(unreadable: {exc})"


POINT_JS = """
([graphId, trace, point]) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  if (!gd || !gd._fullData || !gd._fullData[trace]) return null;
  const t = gd._fullData[trace];
  const xa = gd._fullLayout[t.xaxis.replace('x', 'xaxis')];
  const ya = gd._fullLayout[t.yaxis.replace('y', 'yaxis')];
  const box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.l2p(t.x[point]), y: box.top + ya._offset + ya.l2p(t.y[point])};
}
"""


def point_position(page, graph_id: str, trace: int = 0, point: int = 0) -> dict:
    """Page coordinates of point ``point`` of trace ``trace`` in the dcc.Graph ``graph_id``."""
    pos = page.evaluate(POINT_JS, [graph_id, trace, point])
    if pos is None:
        raise AssertionError(f"graph {graph_id} has no trace {trace}")
    return pos


def wait_for_points(page, graph_id: str, trace: int = 0, minimum: int = 1, timeout: float = 90_000) -> None:
    page.wait_for_function(
        """([id, trace, n]) => { const gd = document.querySelector(`#${CSS.escape(id)} .js-plotly-plot`);
             return gd && gd._fullData && gd._fullData[trace] && gd._fullData[trace].x
                 && gd._fullData[trace].x.length >= n; }""",
        arg=[graph_id, trace, minimum],
        timeout=timeout,
    )


def hover_point(page, graph_id: str, trace: int = 0, point: int = 0) -> None:
    """Move the mouse onto a point (approaching it like a hand would, so Plotly sees the hover)."""
    pos = point_position(page, graph_id, trace, point)
    page.mouse.move(pos["x"] - 30, pos["y"] - 30)
    page.mouse.move(pos["x"], pos["y"], steps=6)


def settled_screenshot(page, path, full_page: bool = True) -> None:
    """Screenshot once Dash has no callback loading and the tab fade has ended (what a person sees).

    A full-page capture squeezes the viewport while it runs, so graphs sized in ``vh`` may re-lay out
    afterwards: mid-test, before drawing on such a graph, pass ``full_page=False``."""
    page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=30_000)
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=full_page)


def hover_card(page, tooltip_id: str, hover, targets, words=(), timeout: float = 8_000) -> str:
    """Call ``hover(t)`` for each target until ``#tooltip_id`` shows an image and all ``words``.

    Image and text are awaited together: a second hover event can briefly put "Loading..."
    back between them. Returns the card's text; raises if no target produced a card.
    """
    # the text is read in the same evaluation that saw the card: read afterwards, a later hover event
    # could already have put "Loading..." back (a race seen under load)
    shown = """([id, words]) => { const t = document.getElementById(id);
                const ok = !!(t && t.querySelector('img.tooltip-img') && words.every(w => t.innerText.includes(w)));
                return ok ? t.innerText : false; }"""
    for target in targets:
        hover(target)
        try:
            return page.wait_for_function(shown, arg=[tooltip_id, list(words)], timeout=timeout).json_value()
        except Exception:
            continue
    raise AssertionError(f"no sample card in #{tooltip_id}: {page.locator(f'#{tooltip_id}').inner_text()!r}")


def compute_explore(page, url: str, source: str = "arrays:emb.npz", method: str = "pca") -> None:
    """Open ``url``'s Explore tab and start a map of ``source`` with ``method`` (what most Explore tests do first)."""
    page.goto(url)
    page.wait_for_selector("text=LayerScope")
    page.locator(".nav-link", has_text="Explore").click()
    page.wait_for_selector(f"#explore-source option[value='{source}']", state="attached")
    page.select_option("#explore-source", source)
    page.select_option("#explore-method", method)
    page.click("#explore-compute")
