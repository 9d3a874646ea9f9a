"""The explorer in a real browser: headless Chromium loads the page, picks Grad-CAM, waits for the
heat map and saves a screenshot (the book's explorer page shows it: ``make screenshot``).

Chromium and chromedriver come from the Debian packages that ``scripts/install_browser.sh``
installs during the test command's set-up; without them the test skips and says why (and fails
under CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chrome
from xaihelpers import data

SCREENSHOT_ENV = "XAI_SCREENSHOT"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(mirror_root, tmp_path):
    port = _free_port()
    env = dict(os.environ, XAI_IMAGENET_MODEL="efficientnet_lite0")
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(data.REPO_ROOT / "explorer" / "app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_grad_cam_in_a_real_browser(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome()
    try:
        browser.get(server)
        wait = WebDriverWait(browser, 180)
        wait.until(ready.presence_of_element_located((By.XPATH, "//*[contains(text(), 'Prediction')]")))
        option = wait.until(ready.element_to_be_clickable(
            (By.XPATH, "//label[.//p[normalize-space(text())='Grad-CAM']]")))
        option.click()
        wait.until(ready.presence_of_element_located((By.ID, "heatmap-ready")))
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "[data-testid='stImage'] img, "
                                                                  "[data-testid='stImageContainer'] img")) >= 2)
        time.sleep(1)  # let the last image paint
        assert "Grad-CAM map for class" in browser.find_element(By.ID, "heatmap-ready").text
        target = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "explorer.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(target))
        assert target.stat().st_size > 10_000
    finally:
        browser.quit()
