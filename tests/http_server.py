"""A small HTTP file server on 127.0.0.1 for download tests: Range support, request log,
and injected faults (a transfer cut mid-file, server errors)."""

from __future__ import annotations

import http.server
import sys
import threading
from collections import defaultdict


class FileServer:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1 at a free port.

    Attributes:
        requests: ``(path, Range header or None)`` per request received, in order.
        cut_once: URL paths whose next full response stops after half of the body.
        fail_times: URL path -> how many next requests get HTTP 503.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.cut_once: set[str] = set()
        self.fail_times: dict[str, int] = defaultdict(int)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                server.requests.append((path, self.headers.get("Range")))
                if server.fail_times[path] > 0:
                    server.fail_times[path] -= 1
                    self._reply(503, b"busy")
                    return
                if path not in server.files:
                    self._reply(404, b"not found")
                    return
                body = server.files[path]
                start = 0
                status = 200
                range_header = self.headers.get("Range")
                if range_header:
                    start = int(range_header.split("=", 1)[1].split("-", 1)[0])
                    if start >= len(body):
                        self._reply(416, b"")
                        return
                    status = 206
                payload = body[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                if path in server.cut_once and status == 200:
                    server.cut_once.discard(path)
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    """A client that hangs up (a download cut, a connection the client closes early) is not an
    error of the server: nothing is printed for it to the tests' stderr, which the tests read."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)
