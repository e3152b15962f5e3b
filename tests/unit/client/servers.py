"""Real HTTP servers on 127.0.0.1 in threads, for the client's tests.

- :func:`serve_wsgi`: any WSGI app (the real Data Explorer) on a free port;
- :func:`recorded`: a WSGI app that logs the path and query of every request it passes on;
- :class:`FileServer`: files by path, answering GET and HEAD with their size, which can be
  told to break a transfer off after some bytes, and which logs every request.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietWSGIHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve_wsgi(app) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 while the context lasts; yield its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietWSGIHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def recorded(app, log: list[tuple[str, dict[str, str]]]):
    """Return ``app`` wrapped so that each request appends ``(path, query parameters)`` to log.

    The parameters are as the server received them (text, blank values kept).
    """

    def logging_app(environ, start_response):
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        log.append((environ.get("PATH_INFO", ""), dict(query)))
        return app(environ, start_response)

    return logging_app


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FileServer:
    """Files served over HTTP/1.1 with their Content-Length.

    Attributes
    ----------
    files : dict
        URL path to bytes.
    break_after : dict
        URL path to ``(bytes sent, times)``: that many GETs of the path send the headers
        with the full length, then that many bytes, then close the connection.
    requests : list
        ``(method, path)`` of every request, in order.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.break_after: dict[str, tuple[int, int]] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _answer(self, send_body: bool) -> None:
                with owner._lock:
                    owner.requests.append((self.command, self.path))
                    data = owner.files.get(self.path)
                    cut = None
                    if send_body and self.path in owner.break_after:
                        sent, times = owner.break_after[self.path]
                        if times > 0:
                            owner.break_after[self.path] = (sent, times - 1)
                            cut = sent
                if data is None:
                    body = b"no such file"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if send_body:
                        self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                if cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if not send_body:
                    return
                if cut is None:
                    self.wfile.write(data)
                    return
                self.wfile.write(data[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(send_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(send_body=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def url(self, path: str) -> str:
        """The full URL of a path."""
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def count(self, method: str, path: str) -> int:
        """Requests of that method for that path so far."""
        with self._lock:
            return self.requests.count((method, path))

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
