"""The order desk in a real browser: Playwright driving Debian's Chromium against COM's live server.

No browser is downloaded: ``/usr/bin/chromium`` (``apt-get install chromium``; `.ci/run` installs it; ``COM_CHROMIUM``
names another) is launched headless. Without it these tests are skipped with the reason, unless ``COM_REQUIRE_E2E`` is set (CI),
where its absence is an error.

Every page the tests open is watched: a console error, an uncaught exception, a failed request or any
response of 400 or more (a missing stylesheet, a broken link) fails the test, unless the test said it
expects that status (the 403 of a user without a role). Screenshots go to ``test-artifacts/browser/``.

The test data comes from COM's own services (``load_demo``, capture and checks, the SOM played with the
simulator's TMF641 payloads, as in ``tests/orders/flows.py``); the browser does everything else.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COM_CHROMIUM", "/usr/bin/chromium"))  # Debian's; another path for another system
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls from a thread with
# a running loop unless told otherwise. The tests set up data with the ORM between browser steps, and the
# loop stays up for the rest of the session, so this is set for the whole run once the browser tests are
# collected (the app itself has no async code).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "tests/browser/" in str(item.fspath)]
    if not browser_items or CHROMIUM.exists():
        return
    if os.environ.get("COM_REQUIRE_E2E"):
        raise pytest.UsageError(f"COM_REQUIRE_E2E is set but {CHROMIUM} is missing: the browser tests need "
                                "Debian's Chromium (apt-get install -y chromium; .ci/run installs it)")
    skip = pytest.mark.skip(reason=f"the browser tests need {CHROMIUM} (apt-get install -y chromium)")
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless, quiet: no sandbox (root in a container), no GPU, no calls home."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}, "locale": "en-GB"}


@pytest.fixture
def demo(transactional_db, settings):
    """The demo data (catalog, customers, channels, the users ``agent``, ``supervisor``, ``catalog``, ``admin``
    with the password ``demo``), from ``load_demo``."""
    from django.core.management import call_command

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo users, quickly
    call_command("load_demo", verbosity=0)


@pytest.fixture
def web(demo):
    """A channel of the tests' own, as the capture path sees it."""
    from orders.services.channels import create_channel

    channel, _ = create_channel(name="web")
    return channel


class Watch:
    """What went wrong on the pages of one browser context: console errors, page errors, failed requests and
    responses of 400 or more (a status the test expects is allowed, once listed)."""

    def __init__(self):
        self.problems: list[str] = []
        self.expected: set[tuple[str, int]] = set()

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error on {page.url}: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # Chromium logs every response of 400 or more as a console error too: the response handler judges those
        status = re.match(r"Failed to load resource: the server responded with a status of (\d+)", message.text)
        where = self._path(message.location.get("url", ""))
        if status and (where, int(status[1])) in self.expected:
            return
        self.problems.append(f"console error on {where}: {message.text}")

    def _failed(self, request) -> None:
        # ERR_ABORTED: the page moved on (a click) before a picture finished loading; a missing file is a 404
        if "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")

    @staticmethod
    def _path(url: str) -> str:
        return re.sub(r"^https?://[^/]+", "", url)

    def _response(self, response) -> None:
        if response.status < 400:
            return
        path = self._path(response.url)
        if (path, response.status) in self.expected:
            return
        self.problems.append(f"{response.status} for {response.request.method} {path}")

    def expect(self, path: str, status: int) -> None:
        self.expected.add((path, status))


class Desk:
    """One person at the desk: a browser context of their own (their own session), its pages watched."""

    def __init__(self, browser, live_server, name: str, test_name: str, watch: Watch):
        self.context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.base = live_server.url
        self.name = name
        self.test_name = test_name
        self.watch = watch
        self.shots: list[Path] = []
        watch.attach(self.page)

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def log_in(self, username: str, password: str = "demo") -> None:
        """Through the admin's login form, as a person would."""
        self.go("/admin/login/?next=/admin/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base + "/admin/")

    def shot(self, step: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{self.name}--{len(self.shots) + 1:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.shots.append(path)
        return path


@pytest.fixture
def desk(browser, live_server, request):
    """``desk("agent")``: a new person with their own browser context; every page watched for errors."""
    watch = Watch()
    desks: list[Desk] = []
    test_name = re.sub(r"\W+", "-", request.node.name).strip("-")

    def open_desk(name: str) -> Desk:
        person = Desk(browser, live_server, name, test_name, watch)
        desks.append(person)
        return person

    open_desk.watch = watch
    yield open_desk
    for person in desks:
        person.context.close()
    assert not watch.problems, "the browser saw problems:\n" + "\n".join(watch.problems)
