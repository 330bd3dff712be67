"""Who sent a request: the client address that the access log names and that per-client limits count.

The client is the request's peer address, unless that peer is a trusted proxy (``KG_TRUSTED_PROXIES``,
loopback by default: the nginx front of ``deploy/nginx.conf``): then it is the first address of
``X-Forwarded-For``, read from the right, that is not a trusted proxy. Each proxy appends the address it received
the request from, so the entries left of the last untrusted one may be forged by that client and are never
read; an entry that is not an IP address ends the walk at the proxy that passed it on. With ``KG_TRUST_PROXY``
(a number of proxies trusted by count, werkzeug's ``ProxyFix``) the peer address is the one ProxyFix derived and
``X-Forwarded-For`` is not read again.

:class:`ClientIdentity`, a WSGI middleware in front of everything but the response replay, stores the client in
the environ (:data:`CLIENT`) and, for the code the request runs (the query pool's per-client limits, the log
line of a limit reached), in a context variable (:func:`current_client`). The per-client limits count an IPv6
client's whole /64 as one (:func:`share_of`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from calcinosis_kg.server.settings import Network

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CLIENT = "calcinosis_kg.client"
"""WSGI environ key of the request's client address."""
CLIENTS_EXTENSION = "calcinosis_kg.clients"
"""Key of the app's :class:`ClientAddresses` in ``app.extensions`` (the response replay names clients too)."""
MAX_HOPS = 32
"""``X-Forwarded-For`` entries read at most: a chain of trusted proxies longer than this is not believed."""

_current: ContextVar[str | None] = ContextVar("calcinosis_kg_client", default=None)


def current_client() -> str | None:
    """The client of the request being answered in this thread, None outside a request."""
    return _current.get()


IPV6_SHARE_PREFIX = 64
"""Length of the IPv6 network that counts as one client for the per-client limits: a host (or a site) is given
a whole /64 and may send each request from another address in it."""


@functools.lru_cache(maxsize=4096)
def share_of(client: str) -> str:
    """What ``client``'s requests are counted under by the per-client limits: the address itself, or for IPv6
    its /64 network (``2001:db8::7`` -> ``2001:db8::/64``); anything that is not an address as it is."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if not isinstance(ip, ipaddress.IPv6Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, IPV6_SHARE_PREFIX), strict=False))


class ClientAddresses:
    """The client of a WSGI environ under a set of trusted proxies (see the module docstring)."""

    def __init__(self, trusted: Iterable[Network]) -> None:
        self.trusted = tuple(trusted)
        self._is_trusted = functools.lru_cache(maxsize=1024)(self._check)

    def _check(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.trusted)

    def __call__(self, environ: WSGIEnvironment) -> str:
        peer = str(environ.get("REMOTE_ADDR") or "-")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if not forwarded or not self.trusted or not self._is_trusted(peer):
            return peer
        client = peer
        for hop in reversed(str(forwarded).split(",")[-MAX_HOPS:]):
            address = hop.strip()
            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                return client  # not an address: the proxy that passed it on is the last one known
            client = address
            if not self._is_trusted(address):
                return client
        return client


class ClientIdentity:
    """WSGI middleware: the client of each request in the environ (:data:`CLIENT`) and in :func:`current_client`."""

    def __init__(self, app: WSGIApplication, clients: ClientAddresses) -> None:
        self.app = app
        self.clients = clients

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        client = environ[CLIENT] = self.clients(environ)
        token = _current.set(client)
        try:
            return self.app(environ, start_response)
        finally:
            _current.reset(token)
