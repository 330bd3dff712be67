"""The settings of the query engine and the result cache: KG_BACKEND, KG_STORE_DIR, KG_CACHE_ENTRIES/BYTES."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcinosis_kg.server.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.load({}, environ={})
    assert settings.backend == "rdflib"
    assert settings.store_dir is None
    assert settings.cache_entries == 1024
    assert settings.cache_bytes == 32 * 1024 * 1024


@pytest.mark.parametrize(("value", "backend"), [("oxigraph", "oxigraph"), (" OxiGraph ", "oxigraph"), ("", "rdflib")])
def test_a_backend_is_chosen(value: str, backend: str) -> None:
    assert Settings.load({}, environ={"KG_BACKEND": value}).backend == backend


@pytest.mark.parametrize("value", ["__bench_probe__", "jena", "1"])
def test_an_unknown_backend_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="KG_BACKEND must be one of rdflib, oxigraph"):
        Settings.load({}, environ={"KG_BACKEND": value})


def test_cache_and_store_settings() -> None:
    settings = Settings.load(
        {"KG_CACHE_ENTRIES": "0", "KG_STORE_DIR": "/srv/kg/stores"}, environ={"KG_CACHE_BYTES": "1000"}
    )
    assert (settings.cache_entries, settings.cache_bytes, settings.store_dir) == (0, 1000, Path("/srv/kg/stores"))


@pytest.mark.parametrize(("name", "value"), [("KG_CACHE_ENTRIES", "-1"), ("KG_CACHE_BYTES", "lots")])
def test_bad_cache_sizes_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.load({name: value}, environ={})
