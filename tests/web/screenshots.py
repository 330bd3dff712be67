"""``make screenshots``: the main pages in headless Chromium, written as PNG files to a folder (docs/screenshots).

Serves the build's ``calcinosis-kg.nt`` (``make build``) on a loopback port, with the npm libraries when ``make
static`` installed them, and drives Debian's Chromium (``apt-get install chromium chromium-driver``; ``.ci/run``
installs it). Usage: ``python -m tests.web.screenshots OUT_DIR``.

Each PNG is stamped with the release it shows (a ``tEXt`` chunk :data:`RELEASE_KEY`: the ontology's version IRI), so
that ``tests/web/test_screenshots.py`` can tell pictures of an older release from those of the current one.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from calcinosis_kg.graph.release import release_info
from calcinosis_kg.ontology import load_ontology
from calcinosis_kg.paths import build_dir
from tests.support.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "docs" / "screenshots"
RELEASE_KEY = "calcinosis-kg release"
"""The PNG text key whose value is the version IRI of the release a screenshot shows."""
_IEND = b"IEND"


def stamp(png: Path, key: str, value: str) -> None:
    """Write a ``tEXt`` chunk ``key``/``value`` into ``png``, before its last chunk (IEND)."""
    data = png.read_bytes()
    end = data.rindex(_IEND) - 4  # the IEND chunk starts with its 4-byte length
    body = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    png.write_bytes(data[:end] + chunk + data[end:])


def texts(png: Path) -> dict[str, str]:
    """The ``tEXt`` chunks of ``png``, key to value."""
    data, found, at = png.read_bytes(), {}, 8  # after the 8-byte signature
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return found


WIDTH = 1280
MAX_HEIGHT = 2200


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def full_page(driver: WebDriver, path: Path, height: int | None = None) -> None:
    """The page from its top, ``height`` pixels (default: the whole page, at most MAX_HEIGHT)."""
    whole = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WIDTH, min(height or whole, MAX_HEIGHT))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, 1000)


Shot = Callable[[WebDriver, str, Path], None]
"""Opens a page of the server at the URL given and writes its screenshot to the path given."""


def whole_page(path: str, ready: str, height: int) -> Shot:
    """The page at ``path``, once ``ready`` (a CSS selector) is there, ``height`` pixels from its top."""

    def shot(driver: WebDriver, url: str, png: Path) -> None:
        driver.get(url + path)
        wait_for(driver, ready)
        full_page(driver, png, height)

    return shot


def query(driver: WebDriver, url: str, png: Path) -> None:
    driver.get(url + "/query?example=causes-of-subtype")
    wait_for(driver, '#yasgui[data-ready="yes"] .CodeMirror')
    driver.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasqe_queryButton").click()
    wait_for(driver, ".tabPanel.active .yasr table.dataTable tbody tr")
    full_page(driver, png, 1300)


def neighbourhood(driver: WebDriver, url: str, png: Path) -> None:
    driver.get(url + "/id/metastatic-calcinosis-cutis")
    wait_for(driver, '#neighbourhood-graph[data-ready="yes"]')
    driver.find_element(By.ID, "neighbourhood").screenshot(str(png))


def ontology(driver: WebDriver, url: str, png: Path) -> None:
    driver.set_window_size(WIDTH, 1800)
    driver.get(url + "/ontology")
    wait_for(driver, "#tree")
    for class_ in ("Condition", "Disease", "Treatment"):
        driver.find_element(By.XPATH, f"//section[@id='tree']//summary[a[@href='/ontology/{class_}']]").click()
    driver.find_element(By.ID, "tree").screenshot(str(png))
    driver.set_window_size(WIDTH, 1000)


SHOTS: dict[str, Shot] = {
    "home": whole_page("/", "#knowledge svg", 1500),
    "query": query,
    "resource": whole_page("/id/calcinosis-cutis", "#statements", 1600),
    "neighbourhood": neighbourhood,
    "ontology": ontology,
}
"""Each screenshot's file name (without ``.png``) and how to take it."""


def main(out: Path) -> int:
    data = build_dir() / "calcinosis-kg.nt"
    if not data.is_file():
        print(f"{data} is missing: run `make build` first", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    release = release_info(load_ontology()).version_iri
    with (
        tempfile.TemporaryDirectory(prefix="screenshots-") as work,
        live_server(Path(work), [data], {"KG_QUERY_WORKERS": "1"}) as server,
    ):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--window-size={WIDTH},1000",
            f"--user-data-dir={work}/profile",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            for name, shot in SHOTS.items():
                shot(driver, server.url, out / f"{name}.png")
                stamp(out / f"{name}.png", RELEASE_KEY, release)
                print(out / f"{name}.png")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER))
