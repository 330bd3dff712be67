"""Conditional GET on every route: ETag and Last-Modified, 304 on revalidation (the app on the built graph)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.web import BROWSER_ACCEPT

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


def get(client: FlaskClient, path: str, accept: str | None, **headers: str) -> TestResponse:
    if accept:
        headers["Accept"] = accept
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("path", "accept"), URLS)
def test_validators_and_304(client: FlaskClient, path: str, accept: str | None) -> None:
    first = get(client, path, accept)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    last_modified = first.headers["Last-Modified"]
    assert etag.startswith(('"', 'W/"'))

    by_etag = get(client, path, accept, **{"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.data == b""
    assert by_etag.headers["ETag"] == etag

    by_date = get(client, path, accept, **{"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    assert by_date.data == b""

    stale_etag = get(client, path, accept, **{"If-None-Match": '"not-the-current-tag"'})
    assert stale_etag.status_code == 200
    assert stale_etag.data == first.data
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    assert get(client, path, accept, **{"If-Modified-Since": earlier}).status_code == 200


def test_each_representation_has_its_own_etag(client: FlaskClient) -> None:
    tags = {
        get(client, "/id/acne", accept).headers["ETag"]
        for accept in ("text/turtle", "application/ld+json", "application/n-triples", "text/html")
    }
    assert len(tags) == 4


def test_revalidation_needs_the_same_representation(client: FlaskClient) -> None:
    turtle = get(client, "/id/acne", "text/turtle")
    as_json = get(client, "/id/acne", "application/ld+json", **{"If-None-Match": turtle.headers["ETag"]})
    assert as_json.status_code == 200


def test_responses_must_be_revalidated(client: FlaskClient) -> None:
    assert get(client, "/id/acne", "text/turtle").headers["Cache-Control"] == "no-cache"


def test_post_and_errors_get_no_validators(client: FlaskClient) -> None:
    posted = client.post("/sparql", data={"query": "ASK {}"})
    assert posted.status_code == 200
    assert "ETag" not in posted.headers
    missing = get(client, "/id/no-such-entity", "text/turtle")
    assert missing.status_code == 404
    assert "ETag" not in missing.headers


def test_head_has_the_same_validators(client: FlaskClient) -> None:
    got = get(client, "/id/acne", "text/turtle")
    head = client.head("/id/acne", headers={"Accept": "text/turtle"})
    assert head.status_code == 200
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Last-Modified"] == got.headers["Last-Modified"]
