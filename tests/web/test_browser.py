"""The UI in a real browser: headless Chromium driven by selenium, without any network access but loopback.

Skipped (with the reason) only where ``/usr/bin/chromedriver`` is missing and CI is not set; CI installs Debian's
``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from calcinosis_kg.queries.catalog import load_catalog
from tests.support.web import LiveServer

CATALOG = load_catalog()

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not CHROMEDRIVER.exists() and not os.environ.get("CI"),
        reason=f"{CHROMEDRIVER} is missing (apt-get install chromium chromium-driver); CI installs it and never skips",
    ),
]

if CHROMEDRIVER.exists() or os.environ.get("CI"):
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM_ARGUMENTS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1024",
)


def chromium(javascript: bool, profile: str) -> WebDriver:
    """Headless Chromium with a fresh profile, logging its requests (``performance``) and console."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@contextmanager
def running_chromium(javascript: bool) -> Iterator[WebDriver]:
    """:func:`chromium` on a fresh profile, quit after the block."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        driver = chromium(javascript, profile)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with JavaScript, closed after the module's tests."""
    with running_chromium(True) as driver:
        yield driver


@pytest.fixture(scope="module")
def plain_browser() -> Iterator[WebDriver]:
    """Headless Chromium with JavaScript disabled: every page must work in it."""
    with running_chromium(False) as driver:
        yield driver


def requested_urls(driver: WebDriver) -> list[str]:
    """The URLs the browser asked for since the log was last read."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def assert_only_local_requests(driver: WebDriver, server: LiveServer) -> None:
    """Fails on any network request to a host other than the server's (``data:``, ``blob:``, the browser's own
    ``chrome:`` pages are not network requests)."""
    network = [url for url in requested_urls(driver) if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]
    external = [url for url in network if not url.startswith(server.url + "/")]
    assert not external, external


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def assert_no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


KNOWN_CSP_REPORT = "yasgui.min.js"
"""YASGUI's column resizer adds one inline <style> to the results table; the CSP blocks it (the columns keep
their width, nothing else changes). Any other error in the console fails the tests that look."""


def console_errors(driver: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not (KNOWN_CSP_REPORT in entry["message"] and "Applying inline style violates" in entry["message"])
    ]


def test_home_to_a_resource_through_a_query_without_javascript(server: LiveServer, plain_browser: WebDriver) -> None:
    browser = plain_browser
    browser.get(server.url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Calcinosis cutis knowledge graph"
    browser.find_element(By.LINK_TEXT, "Query").click()
    wait_for(browser, "form.examples select")
    Select(browser.find_element(By.ID, "example")).select_by_value("subtypes")
    browser.find_element(By.CSS_SELECTOR, "form.examples button").click()
    wait_for(browser, "section.chosen")
    assert "cco:hasSubtype" in browser.find_element(By.ID, "query").get_attribute("value")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, "table.results")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    assert len(rows) == 5  # the four subtypes and calciphylaxis, marked disputed (issue 23)
    browser.find_element(By.CSS_SELECTOR, 'table.results a[href="/id/metastatic-calcinosis-cutis"]').click()
    wait_for(browser, "h1#label")
    assert browser.current_url == f"{server.url}/id/metastatic-calcinosis-cutis"
    assert browser.find_element(By.ID, "label").text == "metastatic calcinosis cutis"
    assert browser.find_elements(By.CSS_SELECTOR, "#statements a"), "the page shows no links"


def test_an_example_from_home_opens_prefilled_without_javascript(server: LiveServer, plain_browser: WebDriver) -> None:
    browser = plain_browser
    browser.get(server.url + "/")
    browser.find_element(By.CSS_SELECTOR, 'a.question[href="/query?example=causes-of-subtype"]').click()
    wait_for(browser, "#query")
    assert "VALUES ?subtype" in browser.find_element(By.ID, "query").get_attribute("value")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, "table.results")
    assert browser.find_elements(By.CSS_SELECTOR, 'table.results a[href="/id/chronic-kidney-disease"]')


def test_a_syntax_error_is_shown_without_javascript(server: LiveServer, plain_browser: WebDriver) -> None:
    browser = plain_browser
    browser.get(server.url + "/query")
    editor = browser.find_element(By.ID, "query")
    editor.clear()
    editor.send_keys("SELECT ?s WHERE { ?s ?p }")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, "#error")
    assert "not answered" in browser.find_element(By.ID, "error").text


def test_markup_in_the_data_is_shown_as_text(hostile_server: LiveServer, plain_browser: WebDriver) -> None:
    browser = plain_browser
    browser.get(hostile_server.url + "/id/hostile")
    wait_for(browser, "h1#label")
    assert_no_alert(browser)
    assert browser.find_element(By.ID, "label").text == "<script>alert(1)</script>"
    assert "</textarea><script>alert(3)</script>" in browser.find_element(By.CSS_SELECTOR, ".definition").text
    assert '"><img src=x onerror=alert(2)>' in browser.find_element(By.CSS_SELECTOR, ".synonyms").text
    assert not browser.find_elements(By.CSS_SELECTOR, 'script:not([src^="/assets/"]), main img, main iframe, main b')

    browser.get(hostile_server.url + "/query?query=SELECT+%3Flabel+WHERE+%7B+%3Fs+skos%3AprefLabel+%3Flabel+%7D")
    wait_for(browser, "table.results")
    assert_no_alert(browser)
    assert "<script>alert(1)</script>" in browser.find_element(By.CSS_SELECTOR, "table.results").text


# --- with JavaScript: the SPARQL editor --------------------------------------------------------------------


def open_editor(driver: WebDriver, url: str) -> None:
    requested_urls(driver)  # forget earlier requests (to other test servers)
    driver.get(url)
    wait_for(driver, '#yasgui[data-ready="yes"] .CodeMirror')


def editor_input(driver: WebDriver) -> WebElement:
    driver.find_element(By.CSS_SELECTOR, ".tabPanel.active .CodeMirror").click()
    return driver.find_element(By.CSS_SELECTOR, ".tabPanel.active .CodeMirror textarea")


def pick_hint(driver: WebDriver, text: str) -> None:
    """Click the completion whose text contains ``text``."""
    xpath = f"//ul[contains(@class, 'CodeMirror-hints')]/li[contains(., '{text}')]"
    hint = WebDriverWait(driver, 10).until(expected_conditions.element_to_be_clickable((By.XPATH, xpath)))
    hint.click()


def click_link(driver: WebDriver, css: str) -> None:
    """Click a link of the results table, scrolled to the middle of the window first."""
    element = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def editor_text(driver: WebDriver) -> str:
    text: str = driver.execute_script("return window.calcinosisEditor.getTab().getYasqe().getValue()")
    return text


def result_rows(driver: WebDriver) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, ".tabPanel.active .yasr table.dataTable tbody tr")
    return [row.text for row in rows]


def test_the_editor_completes_a_class_and_a_label_runs_and_sorts(server: LiveServer, browser: WebDriver) -> None:
    open_editor(browser, server.url + "/query")
    browser.execute_script("window.calcinosisEditor.getTab().getYasqe().setValue('')")
    editor = editor_input(browser)
    editor.send_keys(
        "SELECT ?cause ?label WHERE { cc:metastatic-calcinosis-cutis cco:hasCause ?cause . "
        "?cause skos:prefLabel ?label ; a cco:Neop"
    )
    pick_hint(browser, "cco:Neoplasm")  # a class of the ontology
    editor.send_keys(" . FILTER(?cause != cc:kidn")
    pick_hint(browser, "kidney cancer")  # an entity, found by a word of its label
    editor.send_keys(") }")
    text = editor_text(browser)
    assert "a cco:Neoplasm" in text
    assert "cc:kidney-cancer" in text
    assert "PREFIX cco: <https://w3id.org/calcinosis-kg/ontology/>" in text  # declared when first typed
    browser.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasqe_queryButton").click()
    WebDriverWait(browser, 20).until(lambda driver: len(result_rows(driver)) == 4)
    label_header = browser.find_element(
        By.XPATH, "//div[contains(@class,'tabPanel') and contains(@class,'active')]//table//th[contains(., 'label')]"
    )
    label_header.click()
    WebDriverWait(browser, 10).until(lambda driver: "breast cancer" in result_rows(driver)[0])
    label_header.click()
    WebDriverWait(browser, 10).until(lambda driver: "multiple myeloma" in result_rows(driver)[0])
    assert_only_local_requests(browser, server)


def test_a_canned_question_opens_as_a_tab(server: LiveServer, browser: WebDriver) -> None:
    open_editor(browser, server.url + "/query")
    Select(browser.find_element(By.ID, "example")).select_by_value("subtypes")
    browser.find_element(By.CSS_SELECTOR, "form.examples button").click()
    summary = CATALOG["subtypes"].summary
    WebDriverWait(browser, 10).until(
        lambda driver: summary in driver.find_element(By.CSS_SELECTOR, ".tabsList .tab.active").text
    )
    assert "cco:hasSubtype" in editor_text(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".tabsList .tab")) == 2
    browser.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasqe_queryButton").click()
    WebDriverWait(browser, 20).until(lambda driver: len(result_rows(driver)) == 5)  # calciphylaxis too, marked disputed
    click_link(browser, '.tabPanel.active .yasr a[href$="/id/metastatic-calcinosis-cutis"]')
    wait_for(browser, "h1#label")
    assert browser.current_url == f"{server.url}/id/metastatic-calcinosis-cutis"
    assert_only_local_requests(browser, server)


def test_a_query_from_the_home_page_runs_in_the_editor(server: LiveServer, browser: WebDriver) -> None:
    open_editor(browser, f"{server.url}/query?example=causes-of-subtype")
    assert "VALUES ?subtype" in editor_text(browser)
    assert not browser.find_element(By.ID, "query").is_displayed()  # the plain form gives way to the editor
    open_editor(browser, f"{server.url}/query?query=ASK+%7B+cc%3Aacne+a+cco%3ACause+%7D")
    WebDriverWait(browser, 20).until(
        lambda driver: "true" in driver.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasr").text.lower()
    )
    assert not console_errors(browser), console_errors(browser)


def test_markup_in_the_data_stays_text_with_javascript(hostile_server: LiveServer, browser: WebDriver) -> None:
    labels = "SELECT+%3Flabel+WHERE+%7B+%3Fs+skos%3AprefLabel+%3Flabel+%7D"
    open_editor(browser, f"{hostile_server.url}/query?query={labels}")
    WebDriverWait(browser, 20).until(lambda driver: result_rows(driver))
    assert_no_alert(browser)
    assert "<script>alert(1)</script>" in " ".join(result_rows(browser))
    browser.get(hostile_server.url + "/id/hostile")
    wait_for(browser, "h1#label")
    assert_no_alert(browser)


def test_an_entity_from_the_results_shows_its_graph(server: LiveServer, browser: WebDriver) -> None:
    open_editor(browser, f"{server.url}/query?example=subtypes")
    browser.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasqe_queryButton").click()
    WebDriverWait(browser, 20).until(lambda driver: len(result_rows(driver)) == 5)  # calciphylaxis too, marked disputed
    click_link(browser, '.tabPanel.active .yasr a[href$="/id/metastatic-calcinosis-cutis"]')
    wait_for(browser, '#neighbourhood-graph[data-ready="yes"]')
    assert browser.find_element(By.ID, "neighbourhood-graph").is_displayed()
    assert not browser.find_element(By.ID, "neighbourhood-svg").is_displayed()
    neighbours = browser.execute_script("return window.calcinosisGraph.nodes().map(n => n.data('href')).filter(h => h)")
    assert "/id/chronic-kidney-disease" in neighbours
    assert "/id/calcinosis-cutis" in neighbours  # incoming: calcinosis cutis has this subtype
    browser.execute_script(
        "window.calcinosisGraph.nodes().filter(n => n.data('href') === '/id/chronic-kidney-disease')[0].emit('tap')"
    )
    WebDriverWait(browser, 10).until(lambda driver: driver.current_url.endswith("/id/chronic-kidney-disease"))
    assert_only_local_requests(browser, server)
    assert not console_errors(browser), console_errors(browser)


def test_the_calcinosis_cutis_graph_shows_the_hpo_diseases_and_genes(server: LiveServer, browser: WebDriver) -> None:
    """The interactive graph draws the genetic differential's diseases and their genes (issue 27), every one of them
    marked with the HPO graph, each gene linked from its diseases; a gene node opens NCBI Gene, a disease its page."""
    browser.get(f"{server.url}/id/calcinosis-cutis")
    wait_for(browser, '#neighbourhood-graph[data-ready="yes"]')
    hpo = browser.execute_script(
        "return window.calcinosisGraph.nodes('[graph][kind != \"relation\"]')"
        ".map(n => [n.data('label'), n.data('href'), n.connectedEdges().length])"
    )
    labels = {label: (href, edges) for label, href, edges in hpo}
    assert labels["SAMD9"][0] == "https://www.ncbi.nlm.nih.gov/gene/54809"
    assert labels["SAMD9"][1] == 1  # from its one disease, normophosphatemic familial tumoral calcinosis
    assert labels["Cole disease"][0] == "/id/omim-615522"
    green = browser.execute_script(
        "var n = window.calcinosisGraph.nodes('[graph][kind != \"relation\"]')[0];"
        " return [n.style('background-color'), window.calcinosisGraph.nodes('[kind = \"outgoing\"]')"
        ".filter(m => !m.data('graph'))[0].style('background-color')]"
    )
    assert green[0] != green[1]  # drawn apart from the article's neighbours
    assert not console_errors(browser), console_errors(browser)


def test_the_class_tree_folds_and_opens(server: LiveServer, browser: WebDriver) -> None:
    browser.get(server.url + "/ontology")
    wait_for(browser, "#tree")
    autoimmune = browser.find_element(By.CSS_SELECTOR, '#tree a[href="/ontology/AutoimmuneDisease"]')
    assert not autoimmune.is_displayed()  # folded under condition > disease
    for class_ in ("Condition", "Disease"):
        browser.find_element(By.XPATH, f"//section[@id='tree']//summary[a[@href='/ontology/{class_}']]").click()
    assert autoimmune.is_displayed()
    autoimmune.click()
    wait_for(browser, "#hierarchy")
    breadcrumb = browser.find_element(By.CSS_SELECTOR, "#hierarchy .breadcrumb").text
    assert "disease" in breadcrumb
    assert browser.find_elements(By.CSS_SELECTOR, "#members a")


def test_the_home_search_suggests_as_you_type(server: LiveServer, browser: WebDriver) -> None:
    requested_urls(browser)
    browser.get(server.url + "/")
    browser.find_element(By.ID, "search-box").send_keys("kidn")
    WebDriverWait(browser, 10).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, '#search-suggestions a[href="/id/chronic-kidney-disease"]')
    )
    browser.find_element(By.CSS_SELECTOR, '#search-suggestions a[href="/id/chronic-kidney-disease"]').click()
    wait_for(browser, "h1#label")
    assert browser.find_element(By.ID, "label").text == "chronic kidney disease"
    assert_only_local_requests(browser, server)


def test_a_source_wording_suggests_its_entity_by_its_preferred_label_only(
    server: LiveServer, browser: WebDriver
) -> None:
    """The article's "whiteheads" (a hidden label of milia, not a synonym) finds milia, never shown as its name."""
    browser.get(server.url + "/")
    browser.find_element(By.ID, "search-box").send_keys("whiteheads")
    WebDriverWait(browser, 10).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, '#search-suggestions a[href="/id/milia"]')
    )
    suggestion = browser.find_element(By.CSS_SELECTOR, '#search-suggestions a[href="/id/milia"]').find_element(
        By.XPATH, ".."
    )
    assert suggestion.text.startswith("milia")
    assert "whiteheads" not in suggestion.text.lower()


PAGES = (
    "/",
    "/query",
    "/query?example=subtypes",
    "/id/calcinosis-cutis",
    "/id/acne",
    "/ontology",
    "/ontology/Disease",
    "/search?q=kidney",
)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_works_without_javascript(server: LiveServer, plain_browser: WebDriver, path: str) -> None:
    requested_urls(plain_browser)  # forget earlier requests (to other test servers)
    plain_browser.get(server.url + path)
    wait_for(plain_browser, "main h1")
    assert not plain_browser.find_elements(By.CSS_SELECTOR, "#yasgui .CodeMirror, #neighbourhood-graph canvas")
    if path.startswith("/query"):
        assert plain_browser.find_element(By.ID, "query").is_displayed()
        plain_browser.find_element(By.ID, "run").click()
        wait_for(plain_browser, "table.results")
    if path.startswith("/id/"):
        assert plain_browser.find_element(By.CSS_SELECTOR, "#neighbourhood-svg svg").is_displayed()
        assert plain_browser.find_elements(By.CSS_SELECTOR, "#neighbourhood-svg a")
    if path == "/":
        assert plain_browser.find_element(By.CSS_SELECTOR, "#knowledge svg").is_displayed()
    assert_only_local_requests(plain_browser, server)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_only_from_this_server(server: LiveServer, browser: WebDriver, path: str) -> None:
    requested_urls(browser)  # forget earlier requests (to other test servers)
    browser.get(server.url + path)
    wait_for(browser, "main h1")
    WebDriverWait(browser, 10).until(lambda driver: driver.execute_script("return document.readyState") == "complete")
    assert_only_local_requests(browser, server)
    assert not console_errors(browser), console_errors(browser)
