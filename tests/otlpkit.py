"""A real OTLP/HTTP receiver for tests: http.server on 127.0.0.1 (a free port), decoding with opentelemetry-proto.

It implements the OTLP/HTTP binary-protobuf transport (OTLP specification,
"OTLP/HTTP"): POST /v1/traces and /v1/metrics with an
``ExportTraceServiceRequest`` / ``ExportMetricsServiceRequest`` body (gzip when
``Content-Encoding: gzip``), answered 200 with an empty response message.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Received:
    """What the receiver got, decoded, in arrival order."""

    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Every span with its resource's attributes: (resource attributes, span)."""
        out: list[tuple[dict[str, Any], Any]] = []
        for req in self.traces:
            for rs in req.resource_spans:
                res = attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    out.extend((res, span) for span in ss.spans)
        return out


def any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return None if kind is None else getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP KeyValue list → dict."""
    return {kv.key: any_value(kv.value) for kv in kvs}


@contextmanager
def otlp_receiver(status: int = 200) -> Iterator[tuple[str, Received]]:
    """Run a receiver; yields (base URL ``http://127.0.0.1:PORT``, what it received). ``status`` != 200 refuses."""
    got = Received()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with lock:
                got.content_types.append(self.headers.get("Content-Type", ""))
            if status != 200:
                self.send_response(status)
                self.end_headers()
                return
            if self.path == "/v1/traces":
                req_t = ExportTraceServiceRequest()
                req_t.ParseFromString(body)
                with lock:
                    got.traces.append(req_t)
                answer = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                req_m = ExportMetricsServiceRequest()
                req_m.ParseFromString(body)
                with lock:
                    got.metrics.append(req_m)
                answer = ExportMetricsServiceResponse().SerializeToString()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
