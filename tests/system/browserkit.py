"""Headless Chromium from the system's packages (chromium, chromium-driver), driven by selenium.

`make test` installs them where they are missing and it runs as root; where they cannot be
had, the browser tests are skipped with a loud notice (``MISSING``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

#: where the screenshots of the browser tests go (gitignored)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def _which(names: tuple[str, ...]) -> str | None:
    return next((p for n in names if (p := shutil.which(n))), None)


def missing() -> str | None:
    """Why there is no browser to test with, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if _which(CHROMIUM) is None:
        return "no chromium on PATH (apt-get install chromium chromium-driver)"
    if shutil.which(DRIVER) is None:
        return "no chromedriver on PATH (apt-get install chromium-driver)"
    return None


def chrome(width: int = 1400, height: int = 1000) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(_which(CHROMIUM))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(arg)
    service = Service(executable_path=shutil.which(DRIVER), log_output=os.devnull)
    return webdriver.Chrome(options=opts, service=service)


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
