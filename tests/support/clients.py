"""Requests from distinct client addresses on loopback: Linux routes all of ``127.0.0.0/8`` to the loopback
interface, so a connection made from ``127.0.0.2`` is another client for the server's per-client limits
(``KG_CLIENT_CONCURRENCY``) and its log, without any header to trust."""

from __future__ import annotations

import requests

from bench.soak import SourceAddress, client_address

__all__ = ["client_address", "session_from"]


def session_from(address: str) -> requests.Session:
    """A session whose connections are made from ``address`` (an address of this host)."""
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session
