"""``python -m bench.pages``: how long the web UI's pages take to render on the server, and what they weigh.

In one process (no HTTP, no wrk): the app serving the built graph, each page asked once cold (the first
request for it in the process: for a resource page, the DESCRIBE job through the query pool, parsing and
rendering) and then re-rendered (median of ``--repeat`` renders with the per-process HTML cache bypassed by a
different script root; the pool's result cache then answers the DESCRIBE). The weight is the HTML plus every
stylesheet and script the page loads (``make static`` installs the npm ones). The targets (issue 16): every
page under 1.5 MB; the page of calcinosis cutis rendered in under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from html.parser import HTMLParser

from flask.testing import FlaskClient

from calcinosis_kg.server.app import create_app, query_pool

PAGES = ("/", "/query", "/ontology", "/ontology/Disease", "/id/calcinosis-cutis", "/id/acne")
TARGET_PAGE = "/id/calcinosis-cutis"
TARGET_MS = 200.0
TARGET_BYTES = 1_500_000
HTML = {"Accept": "text/html"}


class Assets(HTMLParser):
    """The stylesheets and scripts a page loads."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("rel") == "stylesheet" and values.get("href"):
            self.urls.append(values["href"] or "")


def timed(client: FlaskClient, path: str, script_root: str = "") -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(path, headers=HTML, environ_overrides={"SCRIPT_NAME": script_root})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return elapsed, response.data


def weight(client: FlaskClient, html: bytes) -> int:
    total = len(html)
    for url in Assets(html.decode()).urls:
        total += len(client.get(url).data)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description="UI pages: render times and weights")
    parser.add_argument("--repeat", type=int, default=9, help="re-renders per page (median kept; default 9)")
    args = parser.parse_args(argv)
    app = create_app({"KG_QUERY_WORKERS": "1"})
    try:
        client = app.test_client()
        rows = []
        for path in PAGES:
            cold, html = timed(client, path)
            warm = statistics.median(timed(client, path, f"/r{index}")[0] for index in range(args.repeat))
            rows.append((path, cold, warm, weight(client, html)))
    finally:
        query_pool(app).close()
    print("| page | first render, ms | re-render, ms (median) | HTML + CSS + JS, KB |")
    print("|---|---:|---:|---:|")
    for path, cold, warm, size in rows:
        print(f"| `{path}` | {cold:.0f} | {warm:.0f} | {size / 1024:.0f} |")
    target = next(row for row in rows if row[0] == TARGET_PAGE)
    heaviest = max(rows, key=lambda row: row[3])
    ok = target[1] < TARGET_MS and heaviest[3] < TARGET_BYTES
    print(
        f"\n{TARGET_PAGE} first render {target[1]:.0f} ms (target < {TARGET_MS:.0f}); heaviest page "
        f"{heaviest[0]} {heaviest[3] / 1e6:.2f} MB (target < {TARGET_BYTES / 1e6:.1f}): {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
