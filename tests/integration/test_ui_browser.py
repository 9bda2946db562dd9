"""The app in a real browser: `textrepair ui` in a subprocess, headless Debian Chromium.

Structure is checked (headings, tabs, coloured panels, a repaired text), not pixels. The
screenshot is saved in the test's tmp dir. CI installs chromium (.ci/run); a developer machine
without /usr/bin/chromium skips this test and says why.
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
from ui_project import write_project, write_tiny_model

import textrepair

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 180  # seconds: streamlit, torch and the model start on a busy 2-core machine


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI runs this test")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"textrepair ui exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"textrepair ui did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def app_url(tmp_path, tiny_params, write_tiny_gold):
    _require_chromium()
    write_project(tmp_path, tiny_params, write_tiny_gold, f"sqlite:///{tmp_path}/mlflow.db")
    model = write_tiny_model(tmp_path / "model")
    port = _free_port()
    log = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "textrepair", "ui", "--model", str(model)]
    command += ["--params", str(tmp_path / "params.yaml"), "--address", "127.0.0.1"]
    command += ["--port", str(port)]
    # The subprocess runs the textrepair package this test imported, wherever it comes from.
    source = str(Path(textrepair.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_app_renders_in_chromium(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(app_url)
            repaired = page.locator(".tr-text").nth(2)  # original, corrupted, repaired
            expect(repaired).to_be_visible(timeout=START_TIMEOUT * 1000)
            assert repaired.inner_text().strip()
            expect(page.get_by_role("heading", name="textrepair")).to_be_visible()
            tabs = page.get_by_role("tab")
            expect(tabs).to_have_text(["Repair", "Model vs SymSpell", "Registry"])
            for label in ("Original", "Corrupted", "Repaired", "CER before", "Model version"):
                expect(page.get_by_text(label, exact=True).first).to_be_visible()
            expect(
                page.locator(".tr-text .tr-mark, .tr-text span[class^='tr-']").first
            ).to_be_attached()
            page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
            tabs.nth(1).click()
            expect(page.get_by_text("SymSpell CER", exact=True)).to_be_visible(timeout=60_000)
            tabs.nth(2).click()
            expect(page.get_by_text("No registered versions", exact=False)).to_be_visible(
                timeout=60_000
            )
        finally:
            browser.close()
    assert (tmp_path / "ui.png").stat().st_size > 10_000
