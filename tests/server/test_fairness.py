"""Per-client fairness: one client's runaway queries cannot make another client wait, and every log line names
the client, as ``X-Forwarded-For`` says only when a trusted proxy sends it (issue 24, item 6).

The live tests run one server (granian, one worker, 2 query workers and the reserve) and send from distinct
loopback addresses (:mod:`tests.support.clients`): ``127.0.0.1`` is its only trusted proxy.
"""

from __future__ import annotations

import concurrent.futures
import re
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from calcinosis_kg.server.errors import ClientBusy, QueueFull, ServerBusy, error_parts
from calcinosis_kg.server.http.clients import ClientAddresses, share_of
from calcinosis_kg.server.settings import LOOPBACK, Settings, SettingsError
from calcinosis_kg.server.workers.fairness import WorkerDispatch
from tests.support import RUNAWAY
from tests.support.clients import session_from
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, LiveServer, live_server

LIMIT = 4.0
MARGIN = 2.0
"""Seconds an answer may take beyond the time limit on a busy machine (worker replacement, HTTP)."""
AT_ONCE = 1.0
"""A refusal 'at once' comes within this many seconds (it came after the whole time limit, or never, before)."""
CHEAP_P50 = 0.1
"""Another client's cheap uncached query, median: a hang regression bound (it waited the runaways' time limit,
4 s here, before); ``python -m bench.fairness`` measures the real figures (19 ms at p50 under 20 runaways)."""
HOSTILE, OTHER, FORGER, LOGGED = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"


@pytest.fixture(scope="module")
def fair_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {
        "KG_QUERY_WORKERS": "2",
        "KG_QUERY_TIMEOUT": str(LIMIT),
        "KG_CLIENT_CONCURRENCY": "2",
        "KG_TRUSTED_PROXIES": "127.0.0.1",
        "KG_ENGINE": "oxigraph",  # the per-client limits are the query workers' (KG_ENGINE=sparql has none)
    }
    with live_server(tmp_path_factory.mktemp("fairness"), [SAMPLE_TTL], settings, *PRODUCTION) as live:
        yield live


def timed(
    source: str, method: str, url: str, query: str, headers: dict[str, str] | None = None
) -> tuple[int, float, str, str]:
    """Status, seconds, body and Retry-After of one query sent from ``source`` on a new connection."""
    started = time.monotonic()
    with session_from(source) as session:
        if method == "GET":
            response = session.get(url, params={"query": query}, headers=headers, timeout=30)
        else:
            response = session.post(url, data={"query": query}, headers=headers, timeout=30)
    return response.status_code, time.monotonic() - started, response.text, response.headers.get("Retry-After", "")


def cheap_query(n: int) -> str:
    """A query answered in a millisecond and never cached before (its text is new)."""
    return f"SELECT ?label WHERE {{ ?s rdfs:label ?label }} LIMIT {n}"


# --- live: one client's runaways against another client --------------------------------------------------


@pytest.mark.live
def test_a_clients_runaways_past_its_share_get_429_while_another_client_is_answered(fair_server: LiveServer) -> None:
    """8 runaways of one client (GET and POST, both on the fast path): 2 run, 2 wait, 4 are refused at once with
    429; another client's cheap uncached queries meanwhile are answered at once (they waited the whole limit
    before)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        runaways = [
            pool.submit(timed, HOSTILE, "GET" if n % 2 else "POST", fair_server.sparql, RUNAWAY) for n in range(8)
        ]
        time.sleep(0.5)
        cheap = []
        for n in range(15):
            status, seconds, body, _ = timed(OTHER, "GET", fair_server.sparql, cheap_query(100 + n))
            assert status == 200, body
            cheap.append(seconds)
        answers = [future.result() for future in runaways]
    assert statistics.median(cheap) < CHEAP_P50, cheap
    refused = [answer for answer in answers if answer[0] == 429 and answer[1] < AT_ONCE]
    assert len(refused) == 4, [(status, round(seconds, 2)) for status, seconds, _, _ in answers]
    for _status, _seconds, body, retry_after in refused:
        assert retry_after == "1"
        assert "KG_CLIENT_CONCURRENCY" in body
        assert HOSTILE in body
    assert all(status in (429, 503) and seconds < LIMIT + MARGIN for status, seconds, _, _ in answers)
    log = fair_server.log_text()
    assert f"limit client reached by {HOSTILE}" in log
    assert f"limit time reached by {HOSTILE}" in log
    assert "reached by -" not in log
    for method in ("GET", "POST"):  # the fast path takes both: the same client, the same share
        assert re.search(rf" {re.escape(HOSTILE)} {method} /sparql 429 ", log), method


@pytest.mark.live
def test_x_forwarded_for_names_the_client_only_from_a_trusted_proxy(fair_server: LiveServer) -> None:
    trusted = {"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}  # the proxy appended 198.51.100.7; the rest is forgeable
    with session_from("127.0.0.1") as session:
        assert session.get(f"{fair_server.url}/health", headers=trusted, timeout=10).status_code == 200
    with session_from(FORGER) as session:
        forged = {"X-Forwarded-For": "198.51.100.99"}
        assert session.get(f"{fair_server.url}/health", headers=forged, timeout=10).status_code == 200
    log = fair_server.log_text()
    assert re.search(r" 198\.51\.100\.7 GET /health 200 ", log)
    assert re.search(rf" {re.escape(FORGER)} GET /health 200 ", log)
    assert "198.51.100.99" not in log
    assert "203.0.113.5" not in log


@pytest.mark.live
def test_a_forged_x_forwarded_for_does_not_escape_the_clients_share(fair_server: LiveServer) -> None:
    """An untrusted peer naming itself anew in each request is still one client: its 5th runaway gets 429."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        answers = [
            pool.submit(timed, FORGER, "GET", fair_server.sparql, RUNAWAY, {"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(5)
        ]
        statuses = [(future.result()[0], future.result()[1]) for future in answers]
    assert sum(1 for status, seconds in statuses if status == 429 and seconds < AT_ONCE) == 1, statuses


@pytest.mark.live
def test_every_log_line_names_the_client(fair_server: LiveServer) -> None:
    """The fast path (GET, POST, a refusal), a replayed answer (GET, POST), Flask (the service description) and
    FHIR: each access-log line names the client the trusted proxy forwarded for, not the proxy."""
    proxied = {"X-Forwarded-For": LOGGED}
    with session_from("127.0.0.1") as session:
        for _ in range(2):  # computed by the fast path, then replayed before Flask
            assert session.get(fair_server.sparql, params={"query": "ASK { ?s ?p ?o }"}, headers=proxied, timeout=10).ok
        for _ in range(2):  # computed by the fast path, then replayed (keyed by the body)
            assert session.post(fair_server.sparql, data={"query": "ASK { ?s ?p ?o }"}, headers=proxied, timeout=10).ok
        assert session.get(fair_server.sparql, headers=proxied, timeout=10).ok
        assert (
            session.get(fair_server.sparql, params={"query": "SELECT"}, headers=proxied, timeout=10).status_code == 400
        )
        assert session.get(f"{fair_server.url}/fhir/metadata", headers=proxied, timeout=10).ok
    log = fair_server.log_text()
    client = re.escape(LOGGED)
    assert len(re.findall(rf" {client} GET /sparql 200 ", log)) == 3
    assert len(re.findall(rf" {client} POST /sparql 200 ", log)) == 2
    assert re.search(rf" {client} GET /sparql 400 ", log)
    assert re.search(rf" {client} GET /fhir/metadata 200 ", log)


# --- in process: the dispatch of idle workers ------------------------------------------------------------


def waiting_for(dispatch: WorkerDispatch[str], count: int) -> None:
    deadline = time.monotonic() + 5
    while dispatch.waiting < count:
        assert time.monotonic() < deadline, "the requests did not start waiting"
        time.sleep(0.005)


def test_waiting_clients_are_served_in_turn_not_first_come_first_served() -> None:
    dispatch: WorkerDispatch[str] = WorkerDispatch(["w"], per_client=5, queue=16)
    worker = dispatch.acquire("x", 1)
    order: list[str] = []
    lock = threading.Lock()

    def query(client: str) -> None:
        got = dispatch.acquire(client, 5)
        with lock:
            order.append(client)
        dispatch.release(got, client)

    threads = []
    for number, client in enumerate(("a", "a", "a", "b")):  # a's three requests wait before b's one
        threads.append(threading.Thread(target=query, args=(client,)))
        threads[-1].start()
        waiting_for(dispatch, number + 1)
    dispatch.release(worker, "x")
    for thread in threads:
        thread.join(5)
    assert order == ["a", "b", "a", "a"]


def test_the_last_idle_worker_is_kept_for_a_client_with_nothing_running() -> None:
    dispatch: WorkerDispatch[str] = WorkerDispatch(["w1", "w2", "w3"], per_client=3, queue=16)
    held = [dispatch.acquire("a", 1), dispatch.acquire("a", 1)]
    started = time.monotonic()
    with pytest.raises(ServerBusy):  # below its own cap, but the last worker is the reserve
        dispatch.acquire("a", 0.2)
    assert time.monotonic() - started >= 0.2
    reserve = dispatch.acquire("b", 0)  # at once
    assert sorted([*held, reserve]) == ["w1", "w2", "w3"]


def test_the_worker_released_last_goes_first() -> None:
    """Hot first: one client's queries one after the other all go to one worker, so the others do not copy the
    heap they inherited (7-8 MB each taken in turns, 3 MB left idle); a second client gets another at once."""
    dispatch: WorkerDispatch[str] = WorkerDispatch(["w1", "w2", "w3"], per_client=2, queue=16)
    used = []
    for _ in range(6):
        worker = dispatch.acquire("a", 1)
        used.append(worker)
        dispatch.release(worker, "a")
    assert len(set(used)) == 1, used
    assert dispatch.acquire("a", 1) == used[0]
    assert dispatch.acquire("b", 0) != used[0]


def test_a_client_past_its_share_is_refused_at_once_and_the_queue_stays_for_others() -> None:
    dispatch: WorkerDispatch[str] = WorkerDispatch(["w1", "w2", "w3"], per_client=2, queue=3)
    held = [dispatch.acquire("a", 1), dispatch.acquire("a", 1)]
    outcomes: list[tuple[str, str]] = []

    def wait(client: str) -> None:
        try:
            dispatch.acquire(client, 0.5)
            outcomes.append((client, "worker"))
        except ServerBusy as error:  # QueueFull is one
            outcomes.append((client, type(error).__name__))
        except ClientBusy:
            outcomes.append((client, "ClientBusy"))

    waiters = [threading.Thread(target=wait, args=("a",)) for _ in range(2)]
    for number, waiter in enumerate(waiters):
        waiter.start()
        waiting_for(dispatch, number + 1)
    started = time.monotonic()
    with pytest.raises(ClientBusy, match="2 running and 2 waiting"):
        dispatch.acquire("a", 5)
    assert time.monotonic() - started < 0.1
    assert sorted([*held, dispatch.acquire("b", 0)]) == ["w1", "w2", "w3"]  # the reserve, at once
    waiters.append(threading.Thread(target=wait, args=("c",)))
    waiters[-1].start()
    waiting_for(dispatch, 3)
    with pytest.raises(QueueFull):
        dispatch.acquire("d", 5)
    for waiter in waiters:
        waiter.join(5)
    # a's waiters were held back by a's own queries; c's by every worker being busy
    assert sorted(outcomes) == [("a", "ClientBusy"), ("a", "ClientBusy"), ("c", "ServerBusy")]
    assert dispatch.waiting == 0


def test_client_busy_is_a_429_with_retry_after() -> None:
    status, body, headers = error_parts(ClientBusy("Too many queries at once from 192.0.2.1"))
    assert status == 429
    assert ("Retry-After", "1") in headers
    assert body.startswith(b"Too many queries")


# --- the client of a request ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.1", "198.51.100.7", "192.0.2.1"),  # an untrusted peer: its header is not read
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "203.0.113.5, 198.51.100.7", "198.51.100.7"),  # left of the first untrusted: forgeable
        ("127.0.0.1", "198.51.100.7, 127.0.0.2", "198.51.100.7"),  # through two trusted proxies
        ("127.0.0.1", "127.0.0.3, 127.0.0.2", "127.0.0.3"),  # every hop trusted: the first one
        ("127.0.0.1", "not-an-address, 198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "198.51.100.7, junk", "127.0.0.1"),  # junk from a trusted proxy: the proxy is the client
        ("::ffff:127.0.0.1", "2001:db8::7", "2001:db8::7"),  # an IPv4-mapped peer; IPv6 in the header
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_a_trusted_proxy(
    peer: str, forwarded: str | None, client: str
) -> None:
    environ = {"REMOTE_ADDR": peer, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
    assert ClientAddresses(LOOPBACK)(environ) == client


@pytest.mark.parametrize(
    ("client", "share"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::7", "2001:db8:1:2::/64"),  # any address of the /64 counts as the same client
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("-", "-"),
    ],
)
def test_an_ipv6_clients_share_is_its_64(client: str, share: str) -> None:
    assert share_of(client) == share


def test_no_trusted_proxy_means_the_peer_is_the_client() -> None:
    assert ClientAddresses(())({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}) == "127.0.0.1"


def test_the_fairness_settings_are_checked() -> None:
    defaults = Settings.load({}, environ={})
    assert (defaults.client_concurrency, defaults.trusted_proxies) == (2, LOOPBACK)
    loaded = Settings.load({"KG_CLIENT_CONCURRENCY": "5", "KG_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1"}, environ={})
    assert loaded.client_concurrency == 5
    assert [str(network) for network in loaded.trusted_proxies] == ["10.0.0.0/8", "2001:db8::1/128"]
    assert Settings.load({"KG_TRUSTED_PROXIES": "none"}, environ={}).trusted_proxies == ()
    with pytest.raises(SettingsError, match="KG_CLIENT_CONCURRENCY"):
        Settings.load({"KG_CLIENT_CONCURRENCY": "0"}, environ={})
    with pytest.raises(SettingsError, match="KG_TRUSTED_PROXIES"):
        Settings.load({"KG_TRUSTED_PROXIES": "proxy.example.org"}, environ={})
