"""``python -m bench.fhir``: how long the FHIR terminology operations take on the built graph.

In one process (the app's test client, no HTTP): ``$expand`` of the value set of every entity with
``filter=cancer``, paged two members at a time until the expansion's ``total`` is reached, then ``$lookup`` and
``$validate-code`` of each member found and ``$translate`` of the ICD-10-CM code L94.2 back to the graph. The
first request of each kind is timed apart (it builds the terminology from the graph through the query pool);
then the median of ``--repeat`` rounds. The pages are checked: together they hold each member once, and every
member's code, display or a designation contains the filter. Target (issue 14): each ``$expand`` page under 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from calcinosis_kg.server.app import create_app, query_pool

VALUE_SET = "/fhir/ValueSet/all/$expand"
CODE_SYSTEM = "https://w3id.org/calcinosis-kg/id"
FILTER = "cancer"
PAGE = 2
TARGET_MS = 20.0


def timed(client: FlaskClient, path: str, params: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(path, query_string=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path} {params}: HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return elapsed, response.json


def expand_pages(client: FlaskClient) -> tuple[list[float], list[dict[str, Any]]]:
    """Every page of the filtered expansion: the time of each and the members, checked."""
    times, members, offset, total = [], [], 0, None
    while total is None or offset < total:
        elapsed, body = timed(
            client, VALUE_SET, {"filter": FILTER, "count": PAGE, "offset": offset, "includeDesignations": "true"}
        )
        expansion = body["expansion"]
        total = int(expansion["total"])
        page = expansion.get("contains", [])
        if not page:
            raise SystemExit(f"empty page at offset {offset} of {total}")
        times.append(elapsed)
        members += page
        offset += len(page)
    codes = [member["code"] for member in members]
    if len(set(codes)) != len(codes) or len(codes) != total:
        raise SystemExit(f"the pages do not hold each of the {total} members once: {codes}")
    if not all(FILTER in " ".join(_texts(member)).lower() for member in members):
        raise SystemExit(f"a member does not match the filter {FILTER!r}: {members}")
    return times, members


def _texts(member: dict[str, Any]) -> list[str]:
    """A member's code, display and designations: where the filter may match."""
    return [member["code"], member.get("display", ""), *(d.get("value", "") for d in member.get("designation", []))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fhir", description="FHIR terminology operation times")
    parser.add_argument("--repeat", type=int, default=9, help="rounds after the first (median kept; default 9)")
    args = parser.parse_args(argv)
    app = create_app({"KG_QUERY_WORKERS": "1"})
    rows: list[tuple[str, float, float]] = []
    try:
        client = app.test_client()
        first, members = expand_pages(client)
        pages = [expand_pages(client)[0] for _ in range(args.repeat)]
        rows.append(
            (
                f"$expand filter={FILTER}, {PAGE} a page ({len(first)} pages)",
                first[0],
                statistics.median(time for round_ in pages for time in round_),
            )
        )
        operations: list[tuple[str, Callable[[str], tuple[str, dict[str, Any]]]]] = [
            ("$lookup", lambda code: ("/fhir/CodeSystem/$lookup", {"system": CODE_SYSTEM, "code": code})),
            ("$validate-code", lambda code: (
                "/fhir/CodeSystem/$validate-code", {"url": CODE_SYSTEM, "code": code})),
            ("$translate L94.2 (reverse)", lambda _: ("/fhir/ConceptMap/$translate", {
                "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L94.2", "reverse": "true"})),
        ]  # fmt: skip
        for name, request in operations:
            times = [timed(client, *request(member["code"]))[0] for _ in range(args.repeat + 1) for member in members]
            rows.append((name, times[0], statistics.median(times[1:])))
    finally:
        query_pool(app).close()
    print("| operation | first, ms | then, ms (median) |")
    print("|---|---:|---:|")
    for name, cold, warm in rows:
        print(f"| {name} | {cold:.1f} | {warm:.2f} |")
    worst = max(time for round_ in pages for time in round_)
    ok = worst < TARGET_MS
    print(f"\n$expand pages after the first request: slowest {worst:.1f} ms (target < {TARGET_MS:.0f}): "
          f"{'ok' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
