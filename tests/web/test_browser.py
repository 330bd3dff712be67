"""The UI in a real browser: headless Chromium driven by selenium, without any network access but loopback.

Skipped (with the reason) only where ``/usr/bin/chromedriver`` is missing and CI is not set; CI installs Debian's
``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import LiveServer

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMEDRIVER.exists() and not os.environ.get("CI"),
    reason=f"{CHROMEDRIVER} is missing (apt-get install chromium chromium-driver); CI installs it and never skips",
)

if CHROMEDRIVER.exists() or os.environ.get("CI"):
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
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


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, closed after the module's tests."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def assert_no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def test_from_the_home_page_to_a_resource_through_a_query(server: LiveServer, browser: WebDriver) -> None:
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
    assert len(rows) == 4
    browser.find_element(By.CSS_SELECTOR, 'table.results a[href="/id/metastatic-calcinosis-cutis"]').click()
    wait_for(browser, "h1#label")
    assert browser.current_url == f"{server.url}/id/metastatic-calcinosis-cutis"
    assert browser.find_element(By.ID, "label").text == "metastatic calcinosis cutis"
    assert browser.find_elements(By.CSS_SELECTOR, "#statements a"), "the page shows no links"


def test_an_example_from_the_home_page_opens_prefilled(server: LiveServer, browser: WebDriver) -> None:
    browser.get(server.url + "/")
    browser.find_element(By.CSS_SELECTOR, 'a.question[href="/query?example=causes-of-subtype"]').click()
    wait_for(browser, "#query")
    assert "VALUES ?subtype" in browser.find_element(By.ID, "query").get_attribute("value")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, "table.results")
    assert browser.find_elements(By.CSS_SELECTOR, 'table.results a[href="/id/chronic-kidney-disease"]')


def test_a_syntax_error_is_shown_as_a_message(server: LiveServer, browser: WebDriver) -> None:
    browser.get(server.url + "/query")
    editor = browser.find_element(By.ID, "query")
    editor.clear()
    editor.send_keys("SELECT ?s WHERE { ?s ?p }")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, "#error")
    assert "not answered" in browser.find_element(By.ID, "error").text


def test_markup_in_the_data_is_shown_as_text(hostile_server: LiveServer, browser: WebDriver) -> None:
    browser.get(hostile_server.url + "/id/hostile")
    wait_for(browser, "h1#label")
    assert_no_alert(browser)
    assert browser.find_element(By.ID, "label").text == "<script>alert(1)</script>"
    assert "</textarea><script>alert(3)</script>" in browser.find_element(By.CSS_SELECTOR, ".definition").text
    assert "\"><img src=x onerror=alert(2)>" in browser.find_element(By.CSS_SELECTOR, ".synonyms").text
    assert not browser.find_elements(By.CSS_SELECTOR, "script, main img, main iframe, main b")

    browser.get(hostile_server.url + "/query?query=SELECT+%3Flabel+WHERE+%7B+%3Fs+skos%3AprefLabel+%3Flabel+%7D")
    wait_for(browser, "table.results")
    assert_no_alert(browser)
    assert "<script>alert(1)</script>" in browser.find_element(By.CSS_SELECTOR, "table.results").text
