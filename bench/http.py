"""One HTTP request to a loopback server with :mod:`http.client` (no proxies from the environment, no
redirects followed): for readiness checks, cold starts and the pre-flight checks of each workload."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """Status, content type and body of one answer."""

    status: int
    content_type: str
    body: bytes

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def rows(self) -> int | None:
        """Rows of a SPARQL JSON result (1/0 for ASK), or None when the body is not one."""
        if "json" not in self.content_type:
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(data, dict) and "boolean" in data:
            return int(bool(data["boolean"]))
        if isinstance(data, dict) and isinstance(data.get("results"), dict):
            bindings = data["results"].get("bindings")
            return len(bindings) if isinstance(bindings, list) else None
        return None


def send(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request to ``127.0.0.1:port``; raises :class:`OSError` (refused, reset, timed out)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body.encode() if body is not None else None, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.getheader("Content-Type") or "", response.read())
    except http.client.HTTPException as error:
        raise OSError(f"bad HTTP answer: {error!r}") from error
    finally:
        connection.close()
