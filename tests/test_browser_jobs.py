"""Jobs in a real browser: a download runs as a background job with a moving progress bar,
and Cancel really stops it — the worker hangs up on the server and no file lands."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import browser_page, running_app, wait_for_points

pytestmark = pytest.mark.browser

SIZE = 4_000_000
CHUNK = 20_000


class SlowServer:
    """Serves any path as SIZE bytes, slowly; records whether the client hung up mid-way."""

    def __init__(self, size: int = SIZE):
        self.started = threading.Event()
        self.client_gone = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                outer.started.set()
                try:
                    for _ in range(size // CHUNK):
                        self.wfile.write(b"\0" * CHUNK)
                        self.wfile.flush()
                        time.sleep(0.05)
                except (BrokenPipeError, ConnectionResetError):
                    outer.client_gone.set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_download_job_progress_and_cancel(tmp_path, artifacts):
    server = SlowServer()
    try:
        with running_app(tmp_path, env={"LAYERSCOPE_MIRROR": server.url}) as url, browser_page() as page:
            page.goto(url)
            wait_for_points(page, "data-scatter", minimum=1000)
            assert page.locator("#job-cancel").is_disabled()
            page.select_option("#data-download-name", "fashion-mnist")
            page.click("#data-download-button")
            assert server.started.wait(60), "the job never reached the server"
            page.wait_for_function("parseFloat(document.querySelector('#job-progress .progress-bar')"
                                   ".getAttribute('aria-valuenow') || '0') > 0", timeout=30_000)
            assert page.locator("#data-download-button").is_disabled()
            assert "download fashion-mnist" in page.locator("#job-message").inner_text()
            page.screenshot(path=str(artifacts / "job_running.png"))

            page.click("#job-cancel")
            assert server.client_gone.wait(30), "cancel did not stop the download"
            page.wait_for_function("!document.querySelector('#data-download-button').disabled", timeout=30_000)
            assert page.locator("#job-cancel").is_disabled()
            page.screenshot(path=str(artifacts / "job_cancelled.png"))
        folder = tmp_path / "data" / "fashion-mnist"
        assert not folder.exists() or not any(p.name.endswith((".gz", "ubyte")) for p in folder.iterdir())
    finally:
        server.close()


def test_finished_job_leaves_the_panel_at_rest(tmp_path, artifacts):
    """After a job ends (here a download that fails its checksum) the bar is not left part-filled
    and the error is in the panel."""
    server = SlowServer(size=200_000)  # ~0.5 s at the server's pace
    try:
        with running_app(tmp_path, env={"LAYERSCOPE_MIRROR": server.url}) as url, browser_page() as page:
            page.goto(url)
            wait_for_points(page, "data-scatter", minimum=1000)
            page.select_option("#data-download-name", "fashion-mnist")
            page.click("#data-download-button")
            page.wait_for_function("document.querySelector('#data-download-button').disabled", timeout=30_000)
            page.wait_for_function("!document.querySelector('#data-download-button').disabled", timeout=120_000)
            time.sleep(1.5)  # a late progress poll must not refill the bar
            value = page.locator("#job-progress .progress-bar").get_attribute("aria-valuenow")
            page.screenshot(path=str(artifacts / "job_finished.png"))
            assert value in ("0", None), f"the bar stayed at {value}% after the job"
            assert "does not match the expected" in page.locator("#job-result").inner_text()
            assert page.locator("#job-cancel").is_disabled()
    finally:
        server.close()
