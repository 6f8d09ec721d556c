"""Jobs in a real browser: a download runs as a background job with a moving progress bar,
and Cancel really stops it — the worker hangs up on the server and no file lands — under both
background managers (diskcache; Celery with a private Redis). Jobs are records a person can
trust: two tabs with the same settings get two jobs, a reload finds the running job and can
cancel it, two jobs at once are cancelled one by one, and a killed app leaves its job marked
interrupted with no debris."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import browser_page, running_app, wait_for_points

pytestmark = pytest.mark.browser

PROGRESS_JS = (
    "parseFloat(document.querySelector('#job-progress .progress-bar')?.getAttribute('aria-valuenow') || '0') > 0"
)


@pytest.fixture(params=["diskcache", "celery"])
def manager(request) -> str:
    """The background manager a job test runs under (celery: a Redis and a worker of its own)."""
    return request.param


SIZE = 4_000_000
CHUNK = 20_000


class SlowServer:
    """Serves any path as `size` bytes, slowly; records whether the client hung up mid-way.

    With `hold` the last chunk trickles out one byte a tick until `close()`: a test's own steps,
    however slow the machine, never race the download to its end (a finished download cannot be
    cancelled), and a hang-up is still seen at the next write."""

    def __init__(self, size: int = SIZE, hold: bool = True):
        self.started = threading.Event()
        self.client_gone = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                outer.started.set()
                left = size
                try:
                    while left:
                        held = not outer.release.is_set() and left <= CHUNK
                        n = (1 if left > 1 else 0) if held else min(CHUNK, left)
                        if n:
                            self.wfile.write(b"\0" * n)
                            self.wfile.flush()
                            left -= n
                        time.sleep(0.05)
                except (BrokenPipeError, ConnectionResetError):
                    outer.client_gone.set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()


def test_download_job_progress_and_cancel(tmp_path, artifacts, manager):
    server = SlowServer()
    try:
        with (
            running_app(tmp_path, env={"LAYERSCOPE_MIRROR": server.url}, manager=manager) as url,
            browser_page() as page,
        ):
            page.goto(url)
            wait_for_points(page, "data-scatter", minimum=1000)
            # the page-load PCA job is over: at rest, Cancel is disabled (after the panel's next poll)
            page.wait_for_function("document.querySelector('#job-cancel').disabled", timeout=15_000)
            page.select_option("#data-download-name", "fashion-mnist")
            page.click("#data-download-button")
            assert server.started.wait(60), "the job never reached the server"
            page.wait_for_function(PROGRESS_JS, timeout=30_000)
            assert page.locator("#data-download-button").is_disabled()
            assert "download fashion-mnist" in page.locator("#job-message").inner_text()
            page.screenshot(path=str(artifacts / f"job_running_{manager}.png"))

            page.click("#job-cancel")
            assert server.client_gone.wait(30), "cancel did not stop the download"
            page.wait_for_function("!document.querySelector('#data-download-button').disabled", timeout=30_000)
            page.wait_for_function("document.querySelector('#job-cancel').disabled", timeout=10_000)
            page.wait_for_function(
                "document.querySelector('#job-message').innerText.includes('cancelled')", timeout=10_000
            )
            assert "cancelled" in page.locator("#job-result").inner_text()
            page.screenshot(path=str(artifacts / f"job_cancelled_{manager}.png"))
        folder = tmp_path / "data" / "fashion-mnist"
        assert not folder.exists() or not any(p.name.endswith((".gz", "ubyte")) for p in folder.iterdir())
    finally:
        server.close()


def test_finished_job_leaves_the_panel_at_rest(tmp_path, artifacts):
    """After a job ends (here a download that fails its checksum) the bar is not left part-filled
    and the error is in the panel."""
    server = SlowServer(size=200_000, hold=False)  # ~0.5 s at the server's pace
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


def _start_download(page, url):
    page.goto(url)
    wait_for_points(page, "data-scatter", minimum=1000)
    page.select_option("#data-download-name", "fashion-mnist")
    page.click("#data-download-button")
    page.wait_for_function(PROGRESS_JS, timeout=30_000)


def _rows(page, status: str) -> int:
    return page.locator(f"#job-list [data-status='{status}']").count()


def test_two_tabs_with_the_same_settings_get_two_jobs_and_a_reload_finds_its_job(tmp_path, artifacts):
    """The same download started in two browser sessions is two jobs, each with its own bar;
    reloading the first tab shows its job still running, and Cancel there stops only that one."""
    from dashboard.job_records import JobRecords

    server = SlowServer(size=4_000_000)  # held before its end: both jobs overlap
    try:
        with running_app(tmp_path, env={"LAYERSCOPE_MIRROR": server.url}) as url, browser_page() as first:
            second = first.context.browser.new_context(viewport={"width": 1500, "height": 950}).new_page()
            _start_download(first, url)
            time.sleep(2)
            _start_download(second, url)
            for page in (first, second):
                page.wait_for_function(
                    "document.querySelectorAll(\"#job-list [data-status='running']\").length === 2", timeout=20_000
                )
                assert not page.locator("#job-cancel").is_disabled()
                assert page.locator(".job-row-mine[data-status='running']").count() == 1
            records = JobRecords(tmp_path / "runs" / ".jobs.sqlite")
            jobs = [j for j in records.recent() if j.active]
            assert len(jobs) == 2 and jobs[0].owner != jobs[1].owner and jobs[0].pid != jobs[1].pid

            first.reload()
            first.wait_for_function(PROGRESS_JS, timeout=20_000)  # the running job, after the reload
            assert not first.locator("#job-cancel").is_disabled()
            first.screenshot(path=str(artifacts / "job_after_reload.png"))
            first.click("#job-cancel")
            first.wait_for_function("document.querySelector('#job-cancel').disabled", timeout=30_000)
            second.wait_for_function(
                "document.querySelectorAll(\"#job-list [data-status='cancelled']\").length === 1", timeout=30_000
            )
            assert _rows(second, "running") == 1 and not second.locator("#job-cancel").is_disabled()
            by_owner = {j.owner: j.status for j in records.recent()}
            assert sorted(by_owner.values()) == ["cancelled", "running"]
            second.click("#job-cancel")
            second.wait_for_function("document.querySelector('#job-cancel').disabled", timeout=30_000)
            assert sorted(j.status for j in records.recent()) == ["cancelled", "cancelled"]
    finally:
        server.close()


def test_two_jobs_at_once_are_cancelled_one_by_one(tmp_path, artifacts):
    """A download and a training in one tab: cancelling the download from its row leaves the
    training running and cancellable (the panel's Cancel stays enabled), then it is cancelled."""
    server = SlowServer()
    try:
        with running_app(tmp_path, env={"LAYERSCOPE_MIRROR": server.url}) as url, browser_page() as page:
            _start_download(page, url)
            page.get_by_role("tab", name="Layers").click()
            page.fill("#layers-depth", "2")
            page.fill("#layers-runs", "1")
            page.fill("#layers-epochs", "400")
            page.fill("#layers-per-class", "20")
            page.click("#layers-train")
            page.wait_for_function(
                "document.querySelectorAll(\"#job-list [data-status='running']\").length === 2", timeout=30_000
            )
            download_row = page.locator("#job-list .job-row", has_text="download fashion-mnist")
            download_row.get_by_role("button", name="Cancel").click()
            assert server.client_gone.wait(30), "cancel did not stop the download"
            page.wait_for_function(
                "document.querySelectorAll(\"#job-list [data-status='running']\").length === 1", timeout=30_000
            )
            assert not page.locator("#job-cancel").is_disabled(), "Cancel went dead while a job still runs"
            assert page.locator("#layers-train").is_disabled()
            page.screenshot(path=str(artifacts / "job_two_at_once.png"))
            page.click("#job-cancel")
            page.wait_for_function("!document.querySelector('#layers-train').disabled", timeout=30_000)
            page.wait_for_function("document.querySelector('#job-cancel').disabled", timeout=30_000)
            assert _rows(page, "cancelled") == 2
        assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".tmp-")]
    finally:
        server.close()


def test_a_killed_app_leaves_its_job_interrupted_and_no_debris(tmp_path, artifacts):
    """SIGKILL the app mid-training: its job process ends too (never an orphan writing unseen);
    restarted on the same store, the job shows as interrupted and no temp folder or cached
    result of the run that never landed is left."""
    import os
    import signal

    import psutil

    from dashboard.job_records import JobRecords

    procs: list = []
    with running_app(tmp_path, proc_out=procs) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Layers").click()
        page.fill("#layers-depth", "2")
        page.fill("#layers-runs", "2")
        page.fill("#layers-epochs", "300")
        page.fill("#layers-per-class", "20")
        page.click("#layers-train")
        page.wait_for_function(PROGRESS_JS, timeout=60_000)
        records = JobRecords(tmp_path / "runs" / ".jobs.sqlite")
        (job,) = [j for j in records.recent() if j.active]
        os.kill(procs[0].pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while psutil.pid_exists(job.pid) and psutil.Process(job.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the job outlived the app"
            time.sleep(0.2)
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("#job-list [data-status='interrupted']", timeout=30_000)
        page.screenshot(path=str(artifacts / "job_interrupted.png"))
        assert records.get(job.id).status == "interrupted"
        runs = tmp_path / "runs"
        assert not [p for p in runs.iterdir() if p.name.startswith(".tmp-")]
        cache = runs / ".cache"
        assert not cache.exists() or not [p for p in cache.iterdir() if p.name.startswith("hardness-")]


def test_four_pages_opened_at_once_each_get_their_plot(tmp_path):
    """Page-load jobs of simultaneous pages are separate jobs: none of the four comes up blank."""
    with running_app(tmp_path) as url, browser_page() as first:
        pages = [first] + [first.context.browser.new_context().new_page() for _ in range(3)]
        for p in pages:  # start all four loads before waiting on any
            p.evaluate(f"window.location.href = {url!r}")
        for p in pages:
            wait_for_points(p, "data-scatter", minimum=1000, timeout=120_000)


def test_training_runs_on_a_celery_worker_and_a_second_job_is_cancelled(tmp_path, artifacts):
    """Scale-out as the README writes it: a Layers training goes through Redis to a Celery worker,
    its progress reaches the page and its run lands; a second, longer one is cancelled."""
    with running_app(tmp_path, manager="celery") as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Layers").click()
        page.fill("#layers-depth", "2")
        page.fill("#layers-runs", "1")
        page.fill("#layers-epochs", "20")
        page.fill("#layers-per-class", "20")
        page.click("#layers-train")
        page.wait_for_function(PROGRESS_JS, timeout=120_000)
        page.wait_for_function(
            "document.querySelector('#job-result').innerText.includes('trained hardness-')", timeout=240_000
        )
        page.wait_for_selector("#job-list [data-status='done']", timeout=30_000)  # the list's next poll
        assert _rows(page, "done") >= 1
        runs = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("hardness-")]
        assert len(runs) == 1 and (runs[0] / "manifest.json").is_file()

        # a long job: the form's largest epochs (500) over 100 per class. 2000 was over the field's max, so the
        # form sent nothing, the job trained the default 20 epochs (~1 s) and could end before Cancel
        page.fill("#layers-epochs", "500")
        page.fill("#layers-per-class", "100")
        page.click("#layers-train")
        page.wait_for_function(PROGRESS_JS, timeout=120_000)
        page.screenshot(path=str(artifacts / "job_celery_running.png"))
        page.click("#job-cancel")
        page.wait_for_function("document.querySelector('#job-result').innerText.includes('cancelled')", timeout=60_000)
        page.wait_for_selector("#job-list [data-status='cancelled']", timeout=30_000)  # the list's next poll
        assert _rows(page, "cancelled") == 1
        assert len([p for p in (tmp_path / "runs").iterdir() if p.name.startswith("hardness-")]) == 1
    worker_log = (tmp_path / "worker.log").read_text()
    assert "succeeded" in worker_log or "Task" in worker_log  # the jobs ran on the worker, not the app
