"""Exposure: which ``Host`` headers the app answers, and a warning when it listens beyond this machine.

A page on ``attacker.example`` can make the browser resolve that name to 127.0.0.1 (DNS
rebinding) and then talk to LayerScope as if same-origin; the one thing it cannot forge is
the ``Host`` header, which then says ``attacker.example``. So requests are answered only for
the bound address, loopback names and the names a person allows (``--allow-host``).
"""
from __future__ import annotations

import ipaddress

from flask import Flask, abort, request

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """``Host`` header → bare lower-case name (port and IPv6 brackets removed)."""
    header = (header or "").strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header[1:]
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
            abort(403, description=f"host {host_name(request.headers.get('Host', ''))!r} is not allowed; "
                                   f"start LayerScope with --allow-host NAME to allow it")
