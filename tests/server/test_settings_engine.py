"""The settings of the query engine, the query limits and the result cache."""

from __future__ import annotations

import logging

import pytest

from calcinosis_kg.server.settings import STORE_MAX_QUERY_DEPTH, STORE_MAX_QUERY_TOKENS, Settings, SettingsError

pytestmark = pytest.mark.engine


def test_defaults() -> None:
    settings = Settings.load({}, environ={})
    assert settings.engine == "oxigraph"
    assert (settings.max_query_depth, settings.max_query_tokens) == (256, 20_000)
    assert settings.cache_entries == 1024
    assert settings.cache_bytes == 32 * 1024 * 1024


def test_the_sparql_engine_has_lower_query_limits_unless_they_are_set() -> None:
    remote = {"KG_ENGINE": "sparql", "KG_STORE_URL": "http://127.0.0.1:7878/query"}
    settings = Settings.load({}, environ=remote)
    assert settings.max_query_tokens == STORE_MAX_QUERY_TOKENS < 20_000
    assert settings.max_query_depth == STORE_MAX_QUERY_DEPTH < 256
    chosen = Settings.load({}, environ={**remote, "KG_MAX_QUERY_TOKENS": "5000", "KG_MAX_QUERY_DEPTH": "300"})
    assert (chosen.max_query_tokens, chosen.max_query_depth) == (5000, 300)


@pytest.mark.parametrize("value", ["oxigraph", " OxiGraph ", ""])
def test_the_engine_is_chosen(value: str) -> None:
    assert Settings.load({}, environ={"KG_ENGINE": value}).engine == "oxigraph"


@pytest.mark.parametrize("value", ["rdflib", "jena", "1"])
def test_an_unknown_engine_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="KG_ENGINE must be one of oxigraph"):
        Settings.load({}, environ={"KG_ENGINE": value})


@pytest.mark.parametrize("value", ["rdflib", "oxigraph"])
def test_the_old_backend_setting_maps_to_the_engine_with_a_warning(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert Settings.load({}, environ={"KG_BACKEND": value}).engine == "oxigraph"
    assert "KG_BACKEND=" in caplog.text
    assert "KG_ENGINE" in caplog.text


def test_the_engine_setting_wins_over_the_old_one() -> None:
    settings = Settings.load({}, environ={"KG_BACKEND": "bogus", "KG_ENGINE": "oxigraph"})
    assert settings.engine == "oxigraph"


def test_an_unknown_old_backend_is_refused() -> None:
    with pytest.raises(SettingsError, match="KG_BACKEND"):
        Settings.load({}, environ={"KG_BACKEND": "jena"})


def test_cache_and_limit_settings() -> None:
    settings = Settings.load({"KG_CACHE_ENTRIES": "0", "KG_MAX_QUERY_DEPTH": "10"}, environ={"KG_CACHE_BYTES": "1000"})
    assert (settings.cache_entries, settings.cache_bytes, settings.max_query_depth) == (0, 1000, 10)


@pytest.mark.parametrize(
    ("name", "value"),
    [("KG_CACHE_ENTRIES", "-1"), ("KG_CACHE_BYTES", "lots"), ("KG_MAX_QUERY_DEPTH", "0"), ("KG_MAX_QUERY_TOKENS", "x")],
)
def test_bad_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.load({name: value}, environ={})
