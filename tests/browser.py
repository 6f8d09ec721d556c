"""Real-browser test support: the app in a subprocess, headless Chromium through Playwright.

Chromium comes from Debian (``apt-get install chromium``); Playwright never downloads
a browser here. Helpers find a Plotly point's position on the page so a test can
hover or drag exactly where a person would.
"""
from __future__ import annotations

import os
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
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(tmp: Path, *, data_dir: Path | None = None, env: dict | None = None,
                timeout: float = 90.0) -> Iterator[str]:
    """Start ``python app.py`` on a free port with its own folders; yield its URL."""
    port = free_port()
    data_dir = data_dir or tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(tmp / "app.log", "w")
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data_dir),
           "--store-dir", str(tmp / "runs"), "--cache-dir", str(tmp / "cache")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"app did not start:\n{(tmp / 'app.log').read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


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
            yield page
        finally:
            browser.close()


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
             return gd && gd._fullData && gd._fullData[trace] && gd._fullData[trace].x && gd._fullData[trace].x.length >= n; }""",
        arg=[graph_id, trace, minimum], timeout=timeout)


def hover_point(page, graph_id: str, trace: int = 0, point: int = 0) -> None:
    """Move the mouse onto a point (approaching it like a hand would, so Plotly sees the hover)."""
    pos = point_position(page, graph_id, trace, point)
    page.mouse.move(pos["x"] - 30, pos["y"] - 30)
    page.mouse.move(pos["x"], pos["y"], steps=6)


def settled_screenshot(page, path) -> None:
    """Screenshot once Dash has no callback loading and the tab fade has ended (what a person sees)."""
    page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=30_000)
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)


def hover_card(page, tooltip_id: str, hover, targets, words=(), timeout: float = 8_000) -> str:
    """Call ``hover(t)`` for each target until ``#tooltip_id`` shows an image and all ``words``.

    Image and text are awaited together: a second hover event can briefly put "Loading..."
    back between them. Returns the card's text; raises if no target produced a card.
    """
    shown = """([id, words]) => { const t = document.getElementById(id);
                return !!(t && t.querySelector('img.tooltip-img') && words.every(w => t.innerText.includes(w))); }"""
    for target in targets:
        hover(target)
        try:
            page.wait_for_function(shown, arg=[tooltip_id, list(words)], timeout=timeout)
            return page.locator(f"#{tooltip_id}").inner_text()
        except Exception:
            continue
    raise AssertionError(f"no sample card in #{tooltip_id}: {page.locator(f'#{tooltip_id}').inner_text()!r}")
