"""CORS in a real browser (issue 12, item 9): a page on another origin cannot stream from the API.

One loopback page server is reached under two origins: ``http://127.0.0.1:P``
(in ``API_ALLOWED_ORIGINS``) and ``http://localhost:P`` (not).  Chromium runs
``fetch`` and ``EventSource`` from each against the app on ``127.0.0.1``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.webapp import TOKEN, App, running_app

pytestmark = pytest.mark.browser

FETCH = """async ([api, token]) => {
  try {
    const r = await fetch(api + "/api/chat/stream", {method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({messages: [{role: "user", content: "cross origin"}], rate: 0})});
    return "read " + r.status + " " + (await r.text()).includes("event: done");
  } catch (e) { return "blocked " + e.name; }
}"""
EVENT_SOURCE = """([api, token]) => new Promise((resolve) => {
  const source = new EventSource(api + "/api/stream?rate=0&prompt=hello&token=" + token);
  source.addEventListener("done", () => { source.close(); resolve("read done"); });
  source.onerror = () => { source.close(); resolve("blocked"); };
})"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<!doctype html><title>another site</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture(scope="module")
def page_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, page_port: int) -> Iterator[App]:
    env = {"API_ALLOWED_ORIGINS": f"http://127.0.0.1:{page_port}"}
    with running_app(tmp_path_factory.mktemp("cors"), env=env) as running:
        yield running


def _answers(app: App) -> float:
    text = httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("chat_answers_total{"))


def _run_in(origin: str, app: App) -> tuple[str, str]:
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(origin)
            return page.evaluate(FETCH, [app.url, TOKEN]), page.evaluate(EVENT_SOURCE, [app.url, TOKEN])
        finally:
            browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_a_page_on_another_origin_can_neither_read_nor_start_an_answer(app: App, page_port: int) -> None:
    before = _answers(app)
    fetched, streamed = _run_in(f"http://localhost:{page_port}/", app)
    assert fetched == "blocked TypeError"
    assert streamed == "blocked"
    assert _answers(app) == before, "a refused page must not make the model run"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_an_allowed_origin_streams_as_before(app: App, page_port: int) -> None:
    fetched, streamed = _run_in(f"http://127.0.0.1:{page_port}/", app)
    assert fetched == "read 200 true"
    assert streamed == "read done"
