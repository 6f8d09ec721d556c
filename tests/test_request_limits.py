"""Bounded requests (issue 18), against a running app on 127.0.0.1: a body over the upload cap is refused
(413) before it is read, only the upload may send a big body, a callback request in the wrong shape gets
400 and one log line (never the body), and the upload callback checks what the page sends before it
stages anything. The app's peak memory is its own ``VmHWM``."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboard.security import BIG_BODY_BYTES, max_request_bytes
from models.datasets.upload import MAX_UPLOAD_BYTES, STAGING_PREFIX
from tests.browser import running_app

UPLOAD_OUTPUT = "..data-upload-staged.data...data-upload-go.data...data-upload-status.children.."
COUNT_OUTPUT = "..selection-count.children...selection-clear.disabled.."
MARKER = "ZQXJ-body-marker"
MIB = 1 << 20


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("requests")
    procs: list = []
    with running_app(tmp, proc_out=procs) as url:
        yield url, procs[0], tmp


def peak_mib(proc) -> float:
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def log_of(tmp: Path) -> str:
    return (tmp / "app.log").read_text(errors="replace")


def post(url: str, body: bytes, timeout: float = 60) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url + "_dash-update-component", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def post_head(url: str, length: int, first: bytes) -> tuple[int, bytes]:
    """Send the headers of a ``length``-byte POST and only ``first`` of its body; the status the server answers."""
    where = urlparse(url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as s:
        s.sendall(
            f"POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1:{where.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
            + first
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply


def upload_body(contents, filename="x.npz", go=0) -> dict:
    return {
        "output": UPLOAD_OUTPUT,
        "outputs": [
            {"id": "data-upload-staged", "property": "data"},
            {"id": "data-upload-go", "property": "data"},
            {"id": "data-upload-status", "property": "children"},
        ],
        "inputs": [{"id": "data-upload", "property": "contents", "value": contents}],
        "state": [
            {"id": "data-upload", "property": "filename", "value": filename},
            {"id": "data-upload-go", "property": "data", "value": go},
        ],
        "changedPropIds": ["data-upload.contents"],
    }


def staged(tmp: Path) -> list[Path]:
    return list((tmp / "data").glob(f"{STAGING_PREFIX}*"))


def test_a_body_over_the_upload_cap_is_refused_before_it_is_read(app):
    """A 300 MB upload peaked the server at 1.5 GB before it was refused: now the headers suffice."""
    url, proc, _tmp = app
    before = peak_mib(proc)
    size = 300_000_000
    assert size > max_request_bytes(MAX_UPLOAD_BYTES)
    head = json.dumps(upload_body("data:application/octet-stream;base64,"))[:-1].encode()
    status, reply = post_head(url, size, head + b"A" * MIB)
    assert status == 413, reply[:300]
    assert peak_mib(proc) - before < 50


def test_a_big_body_that_is_not_an_upload_is_refused_unparsed(app):
    """Below the cap but over 16 MiB: only the upload callback may send that much, and as one string."""
    url, proc, tmp = app
    before, log = peak_mib(proc), len(log_of(tmp))
    many = b'{"output": "' + COUNT_OUTPUT.encode() + b'", "inputs": [' + b"0," * (BIG_BODY_BYTES // 2) + b"0]}"
    status, reply = post(url, many)
    assert status == 413, reply[:300]
    values = json.dumps(upload_body("data:;base64,")).encode().replace(b'"x.npz"', b"[" + b"[]," * (6 * MIB) + b"[]]")
    status, reply = post(url, values)
    assert status == 413 and b"JSON values" in reply, reply[:300]
    assert peak_mib(proc) - before < 150
    assert len(log_of(tmp)) - log < 2000


@pytest.mark.parametrize(
    "body",
    [
        {"output": MARKER * 700_000},  # 10 MB of output: was a 500 quoting it twice
        {"output": f"..{MARKER}.children.."},
        {"inputs": [{"id": "selection", "property": "data", "value": MARKER}]},
        {"output": COUNT_OUTPUT, "inputs": MARKER},
        {"output": COUNT_OUTPUT, "inputs": [{"id": 5, "value": MARKER}]},
        {"output": COUNT_OUTPUT, "inputs": [], "changedPropIds": [MARKER]},
        {"output": COUNT_OUTPUT, "inputs": [{"id": "selection", "property": "data"}], "state": {"x": MARKER}},
        {"output": COUNT_OUTPUT, "inputs": [{"id": "selection", "property": "data"}], "changedPropIds": [5, MARKER]},
        [MARKER],
        MARKER,
    ],
    ids=[
        "long-output",
        "unknown-output",
        "no-output",
        "inputs-text",
        "input-without-property",
        "missing-input",
        "state-object",
        "changed-numbers",
        "list",
        "string",
    ],
)
def test_a_wrong_shaped_callback_request_gets_400_and_one_log_line(app, body):
    url, _proc, tmp = app
    log = len(log_of(tmp))
    status, reply = post(url, json.dumps(body).encode())
    assert status == 400, reply[:300]
    assert b"not a callback request" in reply and MARKER.encode() not in reply
    added = log_of(tmp)[log:]
    assert MARKER not in added and "Traceback" not in added, added[:2000]
    assert added.count("refused POST /_dash-update-component") == 1 and len(added) < 1000, added


def test_a_right_shaped_callback_request_is_still_answered(app):
    url, _proc, _tmp = app
    body = {
        "output": COUNT_OUTPUT,
        "outputs": [
            {"id": "selection-count", "property": "children"},
            {"id": "selection-clear", "property": "disabled"},
        ],
        "inputs": [{"id": "selection", "property": "data", "value": {"space": "digits:train", "ids": [1, 2]}}],
        "changedPropIds": ["selection.data"],
    }
    status, reply = post(url, json.dumps(body).encode())
    assert status == 200 and json.loads(reply)["response"]["selection-count"]["children"] == "2 selected"


@pytest.mark.parametrize(
    "contents, filename, go, says",
    [
        (12345, "x.npz", 0, "arrived as int"),
        ("data:application/octet-stream;base64,UEsDBA==", "x.npz", "text", "upload counter is damaged"),
        ("data:application/octet-stream;base64,UEsDBA==", ["x.npz"], 0, "file name arrived as list"),
    ],
    ids=["number-as-contents", "text-as-counter", "list-as-name"],
)
def test_the_upload_callback_refuses_what_no_page_sends_and_stages_nothing(app, contents, filename, go, says):
    """A number as the file, or text as the counter, was a 500 (the second left a staged file)."""
    url, _proc, tmp = app
    status, reply = post(url, json.dumps(upload_body(contents, filename, go)).encode())
    assert status == 200, reply[:500]
    response = json.loads(reply)["response"]
    assert set(response) == {"data-upload-status"}, response
    alert = json.dumps(response["data-upload-status"])
    assert says in alert and "Nothing was written" in alert, alert
    assert staged(tmp) == []
