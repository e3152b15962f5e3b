"""The local push relay: sign the Pub/Sub emulator's pushes as Google signs real ones.

On Google Cloud a push subscription attaches an ID token of the push service account, and
each service verifies it. The Pub/Sub emulator cannot attach one, so locally every push
subscription points at this relay (``http://127.0.0.1:<push_relay_port>/<service>``, set by
``infra.apply`` on the emulators). For each push it mints a token with the stack's own key
(``emulator/identity.py``: the push account's e-mail, the service's audience, one hour),
forwards the request to the service with ``Authorization: Bearer <token>``, and answers with
the service's status and body, so Pub/Sub's acknowledgement, retry and dead-lettering work as
before. It also serves the key's JWKS at ``GET /jwks``, where the services fetch it
(``PANOPTES_IDENTITY_CERTS_URL``). The services run the same check as on Google Cloud; nothing
is bypassed.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from emulator.identity import LocalSigner, ensure_key
from infra.spec import load
from panoptes_network.cli import summary
from panoptes_network.pipeline.settings import Settings

__all__ = ["build_parser", "main", "serve"]

#: Largest push body forwarded, in bytes (Pub/Sub's message limit is 10 MB, base64 grows it).
MAX_BODY = 16 * 1024 * 1024
#: Request headers passed on to the service.
PASSED = ("Content-Type", "ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time")


def serve(host: str, port: int, identity: Path) -> None:
    """Run the relay until interrupted.

    Parameters
    ----------
    host : str
        Address to listen on (the stack's).
    port : int
        Port to listen on.
    identity : Path
        The stack's identity folder (key and JWKS; made when missing).
    """
    key_file = ensure_key(identity)
    jwks = (identity / "jwks.json").read_bytes()
    signer = LocalSigner(key_file)
    resources = load()
    settings = Settings.from_env()
    push_email = settings.account_email("push")

    class Relay(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, content_type: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.rstrip("/") == "/jwks":
                self._answer(200, jwks)
            else:
                self._answer(404, b'{"error": "GET /jwks only"}')

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            service = self.path.strip("/").split("?")[0]
            target = resources.services.get(service)
            if target is None:
                self._answer(404, b'{"error": "no such service"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, b'{"error": "push body too large"}')
                return
            body = self.rfile.read(length)
            token = signer.token(push_email, settings.audience(service))
            headers = {k: v for k in PASSED if (v := self.headers.get(k)) is not None}
            headers["Authorization"] = f"Bearer {token}"
            request = urllib.request.Request(
                f"http://{host}:{target.local_port}/", data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=target.timeout_seconds + 30) as reply:
                    self._answer(reply.status, reply.read(), reply.headers.get_content_type())
            except urllib.error.HTTPError as exc:
                self._answer(exc.code, exc.read(), "application/json")
            except (urllib.error.URLError, OSError):
                self._answer(503, b'{"error": "the service does not answer"}')

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
            sys.stdout.write(f"{self.address_string()} {format % args}\n")
            sys.stdout.flush()

    server = ThreadingHTTPServer((host, port), Relay)
    server.daemon_threads = True
    try:
        server.serve_forever()
    finally:
        server.server_close()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m emulator.push_relay``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m emulator.push_relay",
        description=summary(__doc__),
        epilog="bin/dev up runs it under the supervisor; push subscriptions point at it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default %(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--identity", type=Path, required=True, help="the identity folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of the relay."""
    args = build_parser().parse_args(argv)
    serve(args.host, args.port, args.identity)
    return 0


if __name__ == "__main__":
    sys.exit(main())
