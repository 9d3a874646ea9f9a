"""Headless Chromium for the browser tests (the explorer, the built book).

Chromium and chromedriver come from the Debian packages that ``scripts/install_browser.sh``
installs during the test command's set-up. Without them a browser test skips and says why; under
CI that skip is a failure (see the repository's ``conftest.py``).
"""

from __future__ import annotations

import shutil

import pytest


def chrome(window: str = "1400,1000"):
    """A headless Chromium WebDriver that also records the page's console messages."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Chromium could not be installed here (no `chromium`/`chromedriver` on PATH after "
                    "scripts/install_browser.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 f"--window-size={window}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)
