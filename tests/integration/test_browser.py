"""The browser the explorer's tests use: a real Chromium runs a page's script and renders it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.browser import browser_page, screenshot

pytestmark = pytest.mark.integration

PAGE = b"""<!doctype html><html><head><title>probe</title></head><body>
<h1 id="title">before</h1><button id="go" onclick="document.getElementById('title')
.textContent = 'after ' + (6 * 7)">go</button></body></html>"""


class _Page(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


def test_chromium_runs_the_pages_script_and_takes_a_screenshot():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with browser_page() as page:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            assert page.text_content("#title") == "before"
            page.click("#go")
            assert page.text_content("#title") == "after 42"
            path = screenshot(page, "browser-probe")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    finally:
        server.shutdown()
