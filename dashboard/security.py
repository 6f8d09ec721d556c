"""Exposure: which ``Host`` headers the app answers, and a warning when it listens beyond this machine.

A page on ``attacker.example`` can make the browser resolve that name to 127.0.0.1 (DNS
rebinding) and then talk to LayerScope as if same-origin; the one thing it cannot forge is
the ``Host`` header, which then says ``attacker.example``. So requests are answered only for
the bound address, loopback names and the names a person allows (``--allow-host``).

Requests are bounded too (:func:`guard_requests`): a body over the upload cap (base64 inflates it
by 4/3) plus headroom is refused (413) before it is read; a big body must be one long string (an
upload's data URL), not millions of JSON values that would take gigabytes to parse; a callback
request in the wrong shape gets 400 and one log line, never a traceback quoting its body.
"""

from __future__ import annotations

import ipaddress
import re
import traceback

from flask import Flask, abort, request

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """``Host`` header → bare lower-case name (port and IPv6 brackets removed)."""
    header = (header or "").strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header[1:]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_host(header: str, bound: str, allow: tuple[str, ...] = ()) -> bool:
    """Whether a request with this ``Host`` header is answered by an app bound to ``bound``.

    Bound to a wildcard (``0.0.0.0``), any IP literal is answered too: a rebinding page always
    sends a *name*, never an address.
    """
    name = host_name(header)
    allowed = {*LOOPBACK_NAMES, bound.lower(), *(a.lower() for a in allow)}
    if name in allowed:
        return True
    return bound in WILDCARDS and _is_ip(name)


def is_local(host: str) -> bool:
    """Whether binding to ``host`` keeps the app on this machine."""
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard_hosts(server: Flask, bound: str, allow: tuple[str, ...] = ()) -> None:
    """Refuse (403) every request whose ``Host`` is not allowed, before Dash sees it."""

    @server.before_request
    def _check_host():
        if not allowed_host(request.headers.get("Host", ""), bound, allow):
            abort(
                403,
                description=f"host {host_name(request.headers.get('Host', ''))!r} is not allowed; "
                f"start LayerScope with --allow-host NAME to allow it",
            )


#: what a callback request may hold besides an upload's data URL (the other inputs, the states)
REQUEST_HEADROOM = 16 << 20
#: above this size a body must be an upload's (its ``output`` named first, as Dash's renderer sends it) and
#: mostly one string, at most :data:`MAX_BIG_BODY_VALUES` separators; below it parsing takes at most ~300 MB
#: (a box around 70,000 points sends about 14 MB of ``selectedData``)
BIG_BODY_BYTES = 16 << 20
MAX_BIG_BODY_VALUES = 100_000
_LEADING_OUTPUT = re.compile(rb'\s*\{\s*"output"\s*:\s*"([^"\\]*)"')
#: the longest ``output`` a callback request may name (a callback's outputs joined; they are a few hundred)
MAX_OUTPUT_CHARS = 8192
#: characters of one log line quoting an error message (a message may quote a request's values)
MAX_LOGGED_LINE = 2000
CALLBACK_PATH = "_dash-update-component"


def max_request_bytes(upload_bytes: int) -> int:
    """The largest request body: an upload of ``upload_bytes`` as base64 (4 bytes per 3) plus headroom."""
    return -(-upload_bytes * 4 // 3) + REQUEST_HEADROOM


def _props_problem(items, what: str) -> str | None:
    """Why a list of ``{"id", "property", "value"}`` (or lists of them, for pattern-matching ids) is malformed."""
    if not isinstance(items, list):
        return f"{what} is not a list"
    for item in items:
        for one in item if isinstance(item, list) else [item]:
            if (
                not isinstance(one, dict)
                or not isinstance(one.get("id"), (str, dict))
                or not isinstance(one.get("property"), str)
            ):
                return f"{what} holds an entry without an id and a property"
    return None


def callback_body_problem(body, callback_map: dict) -> str | None:
    """Why ``body`` is not a callback request this app can answer (None when it is): Dash itself would
    fail on it with a 500 and log a traceback quoting it."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or not output:
        return "'output' is missing or not text"
    if len(output) > MAX_OUTPUT_CHARS:
        return f"'output' is {len(output):,} characters long"
    callback = callback_map.get(output)
    if callback is None:
        return "no callback has that 'output'"
    for key in ("inputs", "state"):
        problem = _props_problem(body.get(key, []), f"'{key}'")
        if problem:
            return problem
        if len(body.get(key, [])) != len(callback.get(key, [])):
            return f"'{key}' has {len(body.get(key, []))} entries, the callback takes {len(callback.get(key, []))}"
    outputs = body.get("outputs", [])
    if isinstance(outputs, dict):
        outputs = [outputs]
    problem = _props_problem(outputs, "'outputs'")
    if problem:
        return problem
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' is not a list of texts"
    return None


def guard_requests(server: Flask, callback_map: dict, max_bytes: int, big_output: str, prefix: str = "/") -> None:
    """Cap every request body at ``max_bytes`` (413 before reading it); refuse a body over
    :data:`BIG_BODY_BYTES` unless it is for the callback whose outputs include ``big_output`` (the
    upload) and is one long string (413); refuse wrong-shaped callback requests (400); one log line
    for each, never the body. Error messages in logged tracebacks are cut to :data:`MAX_LOGGED_LINE`."""
    server.config["MAX_CONTENT_LENGTH"] = max_bytes
    path = prefix.rstrip("/") + "/" + CALLBACK_PATH

    def refuse(status: int, why: str):
        server.logger.warning(
            "refused %s %s (%s bytes): %s",
            request.method,
            request.path,
            request.content_length if request.content_length is not None else "?",
            why,
        )
        abort(status, description=why)

    @server.before_request
    def _check_body():
        size = request.content_length
        if size is not None and size > max_bytes:
            refuse(413, f"the request is {size:,} bytes, more than the {max_bytes:,} LayerScope accepts")
        if request.path != path or request.method != "POST":
            return
        data = request.get_data(cache=True)  # bounded by MAX_CONTENT_LENGTH (a chunked body too); Dash reuses it
        if len(data) > BIG_BODY_BYTES:
            named = _LEADING_OUTPUT.match(data[: MAX_OUTPUT_CHARS + 64])
            if not named or big_output.encode() not in named.group(1):
                refuse(413, f"a {len(data):,}-byte request; only an upload may be over {BIG_BODY_BYTES:,} bytes")
            values = sum(data.count(c) for c in (b",", b"[", b"{", b":"))
            if values > MAX_BIG_BODY_VALUES:
                refuse(
                    413,
                    f"a {len(data):,}-byte request with {values:,} JSON values; only an upload may be this "
                    "big, and it is one string",
                )
        body = request.get_json(silent=True, cache=True)
        problem = "the body is not JSON" if body is None else callback_body_problem(body, callback_map)
        if problem:
            refuse(400, f"not a callback request: {problem}")

    def log_exception(exc_info) -> None:
        """Flask's own log line and traceback, each line cut short: a message may quote a request's values."""
        lines = traceback.format_exception(*exc_info)
        text = "".join(
            line if len(line) <= MAX_LOGGED_LINE else f"{line[:MAX_LOGGED_LINE]}… ({len(line):,} characters)\n"
            for line in lines
        )
        server.logger.error("Exception on %s [%s]\n%s", request.path, request.method, text.rstrip())

    server.log_exception = log_exception
