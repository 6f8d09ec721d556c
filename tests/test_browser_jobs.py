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

    def __init__(self):
        self.started = threading.Event()
        self.client_gone = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(SIZE))
                self.end_headers()
                outer.started.set()
                try:
                    for _ in range(SIZE // CHUNK):
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
