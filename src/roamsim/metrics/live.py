"""The metrics side of ``roamsim run``: a registry that observes the run, served on ``/metrics``
while the run goes (optional), pushed to a Pushgateway after it (optional), and served a
while longer so a scraper catches the final values (``linger``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from roamsim.metrics.pushgateway import check_url, push
from roamsim.metrics.registry import MetricsRegistry
from roamsim.metrics.server import DEFAULT_HOST, MetricsServer


class LiveMetrics:
    """A registry for one run, with its optional HTTP server and Pushgateway target.

    Construction checks the Pushgateway URL (``ValueError``) and starts the server
    (:class:`~roamsim.metrics.server.MetricsServerError` when it cannot listen):
    both are bad input, found before anything is simulated.
    """

    def __init__(self, *, port: int | None = None, host: str = DEFAULT_HOST, pushgateway: str | None = None) -> None:
        self.registry = MetricsRegistry()
        self.pushgateway = check_url(pushgateway) if pushgateway is not None else None
        self.server = MetricsServer(self.registry.snapshot, host, port) if port is not None else None

    def push(self) -> str | None:
        """Push the registry's values to the Pushgateway, if one was given; the URL pushed to."""
        if self.pushgateway is None:
            return None
        run_id = self.registry.run_id
        if run_id is None:
            raise RuntimeError("no run has started: nothing to push")
        return push(self.registry.snapshot(), self.pushgateway, run_id)

    def linger(self, seconds: float, echo: Callable[[str], None]) -> None:
        """Keep serving for ``seconds`` (Ctrl-C ends it early), then stop the server."""
        if self.server is not None and seconds > 0:
            echo(f"metrics: serving the final values on {self.server.url} for {seconds:g} s (Ctrl-C to stop)")
            try:
                time.sleep(seconds)
            except KeyboardInterrupt:
                echo("metrics: stopped serving")
        self.close()

    def close(self) -> None:
        """Stop the server (if any)."""
        if self.server is not None:
            self.server.close()
            self.server = None
