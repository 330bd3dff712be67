"""The endpoint's settings, read from a config mapping and the environment when the app is created.

Each setting has one name, used both as environment variable and as ``create_app`` config key; a config
key overrides the environment variable. Nothing is read at import time.

=========================  ===========================================================  ===============
name                       meaning                                                      default
=========================  ===========================================================  ===============
``KG_DATA``                RDF files to serve (``path[:path...]`` or a list in config)  the built dataset
``KG_QUERY_TIMEOUT``       seconds a query may run before its worker is stopped         ``5``
``KG_MAX_ROWS``            most result rows (or triples) a query may return             ``10000``
``KG_MAX_BODY``            largest request body, in bytes                               ``1048576``
``KG_BODY_TIMEOUT``        seconds a request body may take to arrive (then 408)         ``10``
``KG_TRUST_PROXY``         number of reverse proxies whose X-Forwarded-* to trust       ``0``
``KG_QUERY_WORKERS``       query worker processes per server process (0 = automatic)    ``0``
``KG_UNION_DEFAULT_GRAPH`` the default graph is the union of all graphs                 ``true`` for the
                                                                                        built dataset,
                                                                                        else ``false``
``KG_ENGINE``              query engine: ``oxigraph`` (pyoxigraph, in memory) or ``sparql`` ``oxigraph``
``KG_STORE_URL``           with ``KG_ENGINE=sparql``: the store's SPARQL query endpoint   (required)
``KG_STORE_TIMEOUT_PARAM`` query parameter giving the store the time limit in ms        (none)
``KG_STORE_DEFAULT_GRAPH`` the store's graph that is the default graph (sent as           (the store's)
                           ``default-graph-uri``, the other graphs as ``named-graph-uri``;
                           for stores whose default graph is the union of all, as Virtuoso)
``KG_MAX_QUERY_DEPTH``     most brackets a query may nest                               ``256`` (``128``
                                                                                        with ``sparql``)
``KG_MAX_QUERY_TOKENS``    most tokens a query may have                                 ``20000``
                                                                                        (``2000`` with
                                                                                        ``sparql``)
``KG_QUERY_MEMORY``        megabytes of memory a query worker may use beyond its start  ``1024``
                           (0 = no cap)
``KG_MAX_ANSWER_BYTES``    largest written answer, in bytes                             ``67108864``
``KG_QUERY_QUEUE``         requests that may wait for a query worker, per server process ``16``
``KG_METRICS_DIR``         where the processes write their metrics for ``/metrics``       a new temporary
                                                                                        directory
``KG_CACHE_ENTRIES``       most query results cached (0 = no cache): the shared cache's  ``1024``
                           bound; each server process keeps an eighth in memory (all
                           of it with ``KG_SHARED_CACHE=off``)
``KG_CACHE_BYTES``         most bytes of cached results (0 = none), shared and in each  ``33554432``
                           process's memory as ``KG_CACHE_ENTRIES``
``KG_CLIENT_CONCURRENCY``  uncached queries one client may have running (and as many   ``2``
                           waiting) in each server process; past them 429
``KG_TRUSTED_PROXIES``     addresses or networks (comma-separated; ``none``) of proxies  ``127.0.0.0/8,
                           whose ``X-Forwarded-For`` names the client                   ::1``
``KG_SHARED_CACHE``        where the server's processes share their cached answers      ``auto``
                           (``server/workers/shared_cache.py``): ``auto`` (a temporary
                           folder per server), ``off``, or a folder (shared by every
                           server given it)
``KG_BUNDLE``              the serving bundle (``server/resources/bundle.py``): ``auto``  ``auto``
                           (a fresh one if any), ``make`` (else make one in the         (``make`` with
                           cache), ``off``, or a bundle's folder (refused if stale);    ``serve``)
                           on ``sparql``: the store's, by ``calcinosis-kg publish``
                           (``build/store-bundle``; ignored, logged, if stale)
``KG_STORE_IN_MEMORY``     a bundle's store in memory (loaded once, shared by the       ``auto``
                           forked processes; queries ~9x faster) or on disk: ``auto``
                           (in memory up to 100,000 quads), ``always``, ``never``
=========================  ===========================================================  ===============

The built dataset (``calcinosis-kg.nq``: the ontology unnamed, the article's knowledge and the HPO import in
named graphs of their own) is served with the union of its graphs as the default graph, so a query naming no
graph sees all of it, as the union dumps hold it; files named by ``KG_DATA``, and a remote store, keep the
store's default graph unless ``KG_UNION_DEFAULT_GRAPH`` is set.

``KG_BACKEND``, the engine setting of earlier versions, is still read when ``KG_ENGINE`` is not set: its value
``oxigraph`` maps to ``KG_ENGINE=oxigraph``; ``rdflib`` (an engine that no longer exists) too, with a warning.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from calcinosis_kg.errors import KGError

T = TypeVar("T")

ENGINES = ("oxigraph", "sparql")
"""The query engines ``KG_ENGINE`` may name."""
STORE_MAX_QUERY_TOKENS = 2_000
STORE_MAX_QUERY_DEPTH = 128
"""``KG_MAX_QUERY_TOKENS`` and ``KG_MAX_QUERY_DEPTH``'s defaults with ``KG_ENGINE=sparql``. A store parses and
evaluates on its own threads' stacks: Oxigraph 0.5's server aborts (stack overflow, every client of the store
lost) on 700 projected expressions (3,500 tokens), 1,800 chained additions (3,600 tokens) or 230 nested
``FILTER EXISTS`` groups, all of which our workers' 64 MiB stacks take; it answers at half these sizes. The
largest canned or W3C test query has 133 tokens."""
LEGACY_BACKENDS = ("oxigraph", "rdflib")
"""What ``KG_BACKEND`` accepted; both now mean the oxigraph engine."""

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
"""``KG_TRUSTED_PROXIES``' default: a proxy on the same host (the nginx front of ``deploy/nginx.conf``) names
its clients, so they are told apart; no remote peer can be a loopback address."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(KGError):
    """A setting has a value the endpoint cannot use."""


@dataclass(frozen=True)
class Settings:
    """Validated endpoint settings (see the module docstring for names and defaults)."""

    data: tuple[Path, ...] = ()
    query_timeout: float = 5.0
    max_rows: int = 10_000
    max_body: int = 1_048_576
    body_timeout: float = 10.0
    trust_proxy: int = 0
    query_workers: int = 0
    union_default_graph: bool = True
    """True for the built dataset; :meth:`load` makes it False for ``KG_DATA`` files and a remote store."""
    engine: str = "oxigraph"
    max_query_depth: int = 256
    max_query_tokens: int = 20_000
    query_memory_mb: int = 1024
    max_answer_bytes: int = 64 * 1024 * 1024
    query_queue: int = 16
    metrics_dir: str | None = None
    cache_entries: int = 1024
    cache_bytes: int = 32 * 1024 * 1024
    client_concurrency: int = 2
    trusted_proxies: tuple[Network, ...] = LOOPBACK
    store_url: str | None = None
    store_timeout_param: str | None = None
    store_default_graph: str | None = None
    bundle: str = "auto"
    store_in_memory: str = "auto"
    shared_cache: str = "auto"

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``config`` keys, else ``environ`` variables (default ``os.environ``), else defaults.

        Raises :class:`SettingsError` naming the setting when a value is invalid.
        """
        sources: list[Mapping[str, Any]] = [config or {}, os.environ if environ is None else environ]

        def get(name: str, parse: Callable[[str, Any], T], default: T) -> T:
            for source in sources:
                if name in source and source[name] is not None:
                    return parse(name, source[name])
            return default

        engine = get("KG_ENGINE", _engine, None) or get("KG_BACKEND", _legacy_backend, cls.engine)
        data = get("KG_DATA", _paths, cls.data)
        engine_defaults = {
            "union_default_graph": engine == "oxigraph" and not data,  # the built dataset (module docstring)
            "max_query_depth": STORE_MAX_QUERY_DEPTH if engine == "sparql" else cls.max_query_depth,
            "max_query_tokens": STORE_MAX_QUERY_TOKENS if engine == "sparql" else cls.max_query_tokens,
        }
        settings = cls(
            engine=engine,
            **{
                field: get(name, parse, engine_defaults.get(field, getattr(cls, field)))
                for field, name, parse in VARIABLES
            },
        )
        if settings.engine == "sparql" and settings.store_url is None:
            raise SettingsError("KG_ENGINE=sparql needs KG_STORE_URL, the store's SPARQL query endpoint")
        return settings

    @property
    def pool_size(self) -> int:
        """Query worker processes to start: ``query_workers``, or the number of cores (at least 2)."""
        return self.query_workers or max(2, os.cpu_count() or 1)


def _paths(name: str, value: Any) -> tuple[Path, ...]:
    if isinstance(value, str | Path):
        parts = str(value).split(os.pathsep) if isinstance(value, str) else [value]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise SettingsError(f"{name} must be a path, a '{os.pathsep}'-separated list of paths or a list")
    return tuple(Path(part) for part in parts if str(part).strip())


def _text(name: str, value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _shared_cache(name: str, value: Any) -> str:
    return str(value).strip() or "auto"


def _bundle(name: str, value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise SettingsError(f"{name} must be auto, make, off or the folder of a serving bundle")
    return text if text in ("auto", "make", "off") else str(Path(text))


def _store_in_memory(name: str, value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("auto", "always", "never"):
        raise SettingsError(f"{name} must be auto, always or never, got {value!r}")
    return text


def _store_url(name: str, value: Any) -> str | None:
    text = str(value).strip()
    if text and not text.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return text or None


def _engine(name: str, value: Any) -> str:
    text = str(value).strip().lower() or ENGINES[0]
    if text not in ENGINES:
        raise SettingsError(f"{name} must be one of {', '.join(ENGINES)}, got {value!r}")
    return text


def _legacy_backend(name: str, value: Any) -> str:
    text = str(value).strip().lower() or LEGACY_BACKENDS[0]
    if text not in LEGACY_BACKENDS:
        raise SettingsError(f"{name} (now KG_ENGINE) must be one of {', '.join(LEGACY_BACKENDS)}, got {value!r}")
    log.warning("%s=%s is deprecated: set KG_ENGINE instead; serving with KG_ENGINE=oxigraph", name, text)
    return "oxigraph"


def _number(name: str, value: Any, kind: Callable[[Any], T], what: str) -> T:
    if isinstance(value, bool):
        raise SettingsError(f"{name} must be {what}, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be {what}, got {value!r}") from None


def _positive_float(name: str, value: Any) -> float:
    number = _number(name, value, float, "a positive number")
    if not 0 < number < float("inf"):
        raise SettingsError(f"{name} must be a positive number, got {value!r}")
    return number


def _positive_int(name: str, value: Any) -> int:
    number = _number(name, value, int, "a positive integer")
    if number <= 0:
        raise SettingsError(f"{name} must be a positive integer, got {value!r}")
    return number


def _non_negative_int(name: str, value: Any) -> int:
    number = _number(name, value, int, "an integer >= 0")
    if number < 0:
        raise SettingsError(f"{name} must be an integer >= 0, got {value!r}")
    return number


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _networks(name: str, value: Any) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``), comma- or space-separated; ``none`` or
    nothing: none."""
    items = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    texts = [str(item).strip() for item in items if str(item).strip()]
    if [text.lower() for text in texts] == ["none"]:
        return ()
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name} must list IP addresses or networks (10.0.0.0/8, ::1) or be 'none', got {text!r}"
            ) from None
    return tuple(networks)


def _proxy_count(name: str, value: Any) -> int:
    """A number of proxies; ``true``/``yes``/``on`` mean one proxy and ``false``/``no``/``off`` none."""
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in _TRUE - {"1"} or text in _FALSE - {"0"}:
        return int(text in _TRUE)
    return _non_negative_int(name, text)


VARIABLES: tuple[tuple[str, str, Callable[[str, Any], Any]], ...] = (
    ("data", "KG_DATA", _paths),
    ("query_timeout", "KG_QUERY_TIMEOUT", _positive_float),
    ("max_rows", "KG_MAX_ROWS", _positive_int),
    ("max_body", "KG_MAX_BODY", _positive_int),
    ("body_timeout", "KG_BODY_TIMEOUT", _positive_float),
    ("trust_proxy", "KG_TRUST_PROXY", _proxy_count),
    ("query_workers", "KG_QUERY_WORKERS", _non_negative_int),
    ("union_default_graph", "KG_UNION_DEFAULT_GRAPH", _flag),
    ("max_query_depth", "KG_MAX_QUERY_DEPTH", _positive_int),
    ("max_query_tokens", "KG_MAX_QUERY_TOKENS", _positive_int),
    ("query_memory_mb", "KG_QUERY_MEMORY", _non_negative_int),
    ("max_answer_bytes", "KG_MAX_ANSWER_BYTES", _positive_int),
    ("query_queue", "KG_QUERY_QUEUE", _positive_int),
    ("metrics_dir", "KG_METRICS_DIR", _text),
    ("cache_entries", "KG_CACHE_ENTRIES", _non_negative_int),
    ("cache_bytes", "KG_CACHE_BYTES", _non_negative_int),
    ("client_concurrency", "KG_CLIENT_CONCURRENCY", _positive_int),
    ("trusted_proxies", "KG_TRUSTED_PROXIES", _networks),
    ("store_url", "KG_STORE_URL", _store_url),
    ("store_timeout_param", "KG_STORE_TIMEOUT_PARAM", _text),
    ("store_default_graph", "KG_STORE_DEFAULT_GRAPH", _text),
    ("bundle", "KG_BUNDLE", _bundle),
    ("store_in_memory", "KG_STORE_IN_MEMORY", _store_in_memory),
    ("shared_cache", "KG_SHARED_CACHE", _shared_cache),
)
"""Each field of :class:`Settings` but ``engine`` (read first: other defaults depend on it), with the setting
that sets it and the function that checks and converts the setting's value."""
