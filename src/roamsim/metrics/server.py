"""A small HTTP server for Prometheus to scrape while a run goes: ``GET /metrics``.

Serves the Prometheus text format 0.0.4, or OpenMetrics 1.0 when the scraper
asks for it in ``Accept`` (Prometheus does). One thread, stdlib only; it
binds to loopback unless told otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from roamsim.metrics.exposition import CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_TEXT, encode_openmetrics, encode_text
from roamsim.metrics.snapshot import FamilySnapshot

DEFAULT_HOST = "127.0.0.1"


class MetricsServerError(OSError):
    """The server cannot listen where it was asked to."""


def _handler(source: Callable[[], list[FamilySnapshot]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "roamsim-metrics"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                families = source()
                if "application/openmetrics-text" in self.headers.get("Accept", ""):
                    body, ctype = encode_openmetrics(families).encode(), CONTENT_TYPE_OPENMETRICS
                else:
                    body, ctype = encode_text(families).encode(), CONTENT_TYPE_TEXT
                self._send(200, ctype, body)
            elif path == "/":
                self._send(200, "text/plain; charset=utf-8", b"roamsim metrics: GET /metrics\n")
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found; try /metrics\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not logged (they would interleave with the run's output)."""

    return Handler


class MetricsServer:
    """Serves ``source()`` on ``http://HOST:PORT/metrics`` from a background thread until closed.

    ``port=0`` picks a free port (read :attr:`port`). Use as a context manager, or
    call :meth:`close`.
    """

    def __init__(self, source: Callable[[], list[FamilySnapshot]], host: str = DEFAULT_HOST, port: int = 0) -> None:
        try:
            self._httpd = ThreadingHTTPServer((host, port), _handler(source))
        except OSError as exc:
            raise MetricsServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self._httpd.daemon_threads = True
        self.host = host
        self.port: int = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="roamsim-metrics-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
