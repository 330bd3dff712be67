"""Conditional GET on every route: ETag and Last-Modified, 304 on revalidation."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
import requests

from tests.support.web import BROWSER_ACCEPT, LiveServer

pytestmark = pytest.mark.live

URLS = [
    ("/", None),
    ("/id/acne", "text/turtle"),
    ("/id/acne", BROWSER_ACCEPT),
    ("/id/acne.jsonld", None),
    ("/ontology", "application/rdf+xml"),
    ("/.well-known/void", None),
    ("/dumps/calcinosis-kg.ttl", None),
    ("/query?example=subtypes", None),
    ("/query?query=ASK+%7B+%3Fs+%3Fp+%3Fo+%7D", None),
    ("/sparql?query=SELECT+%3Fs+WHERE+%7B+%3Fs+a+cco%3ASubtype+%7D", "text/csv"),
    ("/sparql", "text/turtle"),
    ("/queries/subtypes", "text/csv"),
    ("/health", None),
    ("/assets/style.css", None),
]


def get(http: requests.Session, url: str, accept: str | None, **headers: str) -> requests.Response:
    if accept:
        headers["Accept"] = accept
    return http.get(url, headers=headers, timeout=30)


@pytest.mark.parametrize(("path", "accept"), URLS)
def test_validators_and_304(server: LiveServer, http: requests.Session, path: str, accept: str | None) -> None:
    url = server.url + path
    first = get(http, url, accept)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    last_modified = first.headers["Last-Modified"]
    assert etag.startswith(('"', 'W/"'))

    by_etag = get(http, url, accept, **{"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag.headers["ETag"] == etag

    by_date = get(http, url, accept, **{"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    assert by_date.content == b""

    stale_etag = get(http, url, accept, **{"If-None-Match": '"not-the-current-tag"'})
    assert stale_etag.status_code == 200
    assert stale_etag.content == first.content
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    assert get(http, url, accept, **{"If-Modified-Since": earlier}).status_code == 200


def test_each_representation_has_its_own_etag(server: LiveServer, http: requests.Session) -> None:
    tags = {
        get(http, f"{server.url}/id/acne", accept).headers["ETag"]
        for accept in ("text/turtle", "application/ld+json", "application/n-triples", "text/html")
    }
    assert len(tags) == 4


def test_revalidation_needs_the_same_representation(server: LiveServer, http: requests.Session) -> None:
    turtle = get(http, f"{server.url}/id/acne", "text/turtle")
    as_json = get(http, f"{server.url}/id/acne", "application/ld+json", **{"If-None-Match": turtle.headers["ETag"]})
    assert as_json.status_code == 200


def test_responses_must_be_revalidated(server: LiveServer, http: requests.Session) -> None:
    assert get(http, f"{server.url}/id/acne", "text/turtle").headers["Cache-Control"] == "no-cache"


def test_post_and_errors_get_no_validators(server: LiveServer, http: requests.Session) -> None:
    posted = http.post(f"{server.url}/sparql", data={"query": "ASK {}"}, timeout=30)
    assert posted.status_code == 200
    assert "ETag" not in posted.headers
    missing = get(http, f"{server.url}/id/no-such-entity", "text/turtle")
    assert missing.status_code == 404
    assert "ETag" not in missing.headers


def test_head_has_the_same_validators(server: LiveServer, http: requests.Session) -> None:
    got = get(http, f"{server.url}/id/acne", "text/turtle")
    head = http.head(f"{server.url}/id/acne", headers={"Accept": "text/turtle"}, timeout=30)
    assert head.status_code == 200
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Last-Modified"] == got.headers["Last-Modified"]
