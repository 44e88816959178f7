"""A small OTLP/HTTP trace receiver that records what it is sent, in place of Jaeger.

POST /v1/traces on port 4318 (protobuf or JSON, as the OpenTelemetry exporters send it)
keeps every span in memory; GET /api/spans on port 16686 lists them as JSON (``?trace_id=``
narrows to one trace); GET / on port 14269 answers 200 when the receiver runs. Metrics and
logs sent to 4318 are accepted and dropped.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

OTLP_PORT = 4318
QUERY_PORT = 16686
HEALTH_PORT = 14269
MAX_SPANS = 200_000
LISTEN = "0.0.0.0"  # noqa: S104 a container's ports, reached from the other containers

_spans: list[dict[str, Any]] = []
_lock = threading.Lock()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def spans_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """One flat record per span: ids in hex, the resource's service name, links."""
    found = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    {
                        "service": resource.get("service.name"),
                        "scope": scope_spans.scope.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "kind": span.kind,
                        "start_unix_nano": span.start_time_unix_nano,
                        "end_unix_nano": span.end_time_unix_nano,
                        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                        "links": [
                            {
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": {kv.key: _value(kv.value) for kv in link.attributes},
                            }
                            for link in span.links
                        ],
                        "status_code": span.status.code,
                    }
                )
    return found


class Handler(BaseHTTPRequestHandler):
    server_version = "cqrsw-otlp-receiver"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._reply(status, json.dumps(data).encode(), "application/json")

    def do_POST(self) -> None:
        port = self.connection.getsockname()[1]
        path = urlsplit(self.path).path
        if port != OTLP_PORT or path not in {"/v1/traces", "/v1/metrics", "/v1/logs"}:
            self._json(404, {"error": "not found"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        content_type = self.headers.get("Content-Type", "application/x-protobuf")
        if path == "/v1/traces":
            request = ExportTraceServiceRequest()
            try:
                if content_type.startswith("application/json"):
                    json_format.Parse(body, request)
                else:
                    request.ParseFromString(body)
            except (ValueError, json_format.ParseError) as exc:  # DecodeError is a ValueError
                self._json(400, {"error": f"not an OTLP trace request: {exc}"})
                return
            received = spans_of(request)
            with _lock:
                _spans.extend(received)
                del _spans[:-MAX_SPANS]
        if content_type.startswith("application/json"):
            self._json(200, {})
        else:
            answer = ExportTraceServiceResponse().SerializeToString()
            self._reply(200, answer, "application/x-protobuf")

    def do_GET(self) -> None:
        port = self.connection.getsockname()[1]
        url = urlsplit(self.path)
        if port == HEALTH_PORT:
            self._json(200, {"status": "Server available"})
            return
        if port == QUERY_PORT and url.path == "/api/spans":
            wanted = parse_qs(url.query).get("trace_id")
            with _lock:
                spans = [s for s in _spans if not wanted or s["trace_id"] in wanted]
            self._json(200, {"spans": spans})
            return
        self._json(404, {"error": "not found"})


def main() -> None:
    servers = [
        ThreadingHTTPServer((LISTEN, port), Handler)
        for port in (OTLP_PORT, QUERY_PORT, HEALTH_PORT)
    ]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"OTLP receiver: traces on {OTLP_PORT}, spans on {QUERY_PORT}/api/spans", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
