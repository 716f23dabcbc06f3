"""Browser tests: the studio as a real server process on the test database, driven by headless
Debian Chromium through Playwright (never a downloaded browser).

With REDIS_URL set the server uses channels-redis, so events published by another process (a
``manage.py shell`` run, as a worker or the detector would) reach its sockets. Without Redis the
channel layer lives inside the server process, and only writes made through the server itself
(the API) are seen live.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import WORKER, free_port, require_service

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIZES = {"1280x800": {"width": 1280, "height": 800}, "390x844": {"width": 390, "height": 844}}
SERVER_START_SECONDS = 60
STUDIO_PROCESS = [sys.executable, "-m", "tests.ui.studio_process"]


def _sqlite_test_database_on_disk() -> None:
    """The server process opens the test database too; SQLite's default in-memory one it cannot.

    Runs at import, before pytest-django creates the test database of this worker.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        test = database.setdefault("TEST", {})
        if not test.get("NAME"):
            test["NAME"] = str(Path(tempfile.mkdtemp(prefix="rs-ui-")) / "test.sqlite3")


_sqlite_test_database_on_disk()


@dataclass
class Studio:
    url: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def shares_events_across_processes(self) -> bool:
        from django.conf import settings

        return not settings.EMBEDDED

    def shell(self, code: str, *, timeout: float = 60) -> str:
        """Run Python in another process of this studio (its settings, database and channel layer)."""
        result = subprocess.run(
            [*STUDIO_PROCESS, "shell", "--no-imports", "-c", code],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        assert result.returncode == 0, f"manage.py shell failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def studio(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """``manage.py serve`` on a free port, on this worker's test database."""
    from django.db import connection

    port = free_port()
    env = {
        **os.environ,
        "RS_UI_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        # This session's own groups: its event producers reach this server, no one else's.
        "CHANNEL_LAYER_PREFIX": f"rs-test-{WORKER}-ui-{uuid.uuid4().hex[:8]}",
        # No detection cycle during a test: alerts change only when a test says so.
        "DETECTION_INTERVAL_SECONDS": "86400",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path_factory.mktemp("studio") / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*STUDIO_PROCESS, "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    studio = Studio(url=f"http://127.0.0.1:{port}", env=env, log=log, process=process)
    try:
        _wait_until_serving(studio)
        yield studio
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_until_serving(studio: Studio) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if studio.process.poll() is not None:
            pytest.fail(f"the studio exited with {studio.process.returncode}:\n{studio.log_tail()}")
        try:
            if requests.get(f"{studio.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the studio did not answer /healthz within {SERVER_START_SECONDS} s:\n{studio.log_tail()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        require_service(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread while it lives; Django
    # refuses ORM calls from such a thread unless told the caller knows it is synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()


def sign_in(context: Any, studio: Studio, user: Any) -> None:
    """A session for ``user`` in the shared database, handed to the browser as its cookie."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": studio.url}])


@pytest.fixture
def open_page(browser: Any, studio: Studio) -> Iterator[Callable[..., Any]]:
    """``open_page(user, size=..., color_scheme=...)``: a fresh browser context's page, signed in.

    Any uncaught JavaScript error on any page fails the test.
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(user: Any = None, *, size: str = "1280x800", color_scheme: str = "light") -> Any:
        context = browser.new_context(viewport=SIZES[size], color_scheme=color_scheme, base_url=studio.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:
            sign_in(context, studio, user)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def wait_until_live(page: Any) -> None:
    page.wait_for_function("document.documentElement.dataset.live === 'connected'")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
