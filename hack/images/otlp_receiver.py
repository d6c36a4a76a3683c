"""A minimal OTLP receiver for the real-node tests: records what it receives.

OTLP/gRPC on 4317 and OTLP/HTTP (protobuf or JSON) on 4318, for metrics, traces and logs. What
arrived is served as JSON at GET /_receiver/received on 4318: per signal the number of export
requests, and the metric names, span names and service names seen. Runs on the Locust image's
virtualenv (grpcio and the OTLP protobuf classes come with locust[otel]).
"""

import gzip
import json
import signal
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as traces

lock = threading.Lock()
received = {
    signal: {"requests": 0, "names": set(), "services": set(), "protocols": set()}
    for signal in ("metrics", "traces", "logs")
}
SIGNALS = {
    "metrics": (metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse,
                "opentelemetry.proto.collector.metrics.v1.MetricsService"),
    "traces": (traces.ExportTraceServiceRequest, traces.ExportTraceServiceResponse,
               "opentelemetry.proto.collector.trace.v1.TraceService"),
    "logs": (logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse,
             "opentelemetry.proto.collector.logs.v1.LogsService"),
}


def service_names(resource):
    return {a.value.string_value for a in resource.attributes if a.key == "service.name"}


def record(signal, request, protocol):
    names, services = set(), set()
    if signal == "metrics":
        for rm in request.resource_metrics:
            services |= service_names(rm.resource)
            for sm in rm.scope_metrics:
                names |= {m.name for m in sm.metrics}
    elif signal == "traces":
        for rs in request.resource_spans:
            services |= service_names(rs.resource)
            for ss in rs.scope_spans:
                names |= {s.name for s in ss.spans}
    else:
        for rl in request.resource_logs:
            services |= service_names(rl.resource)
    with lock:
        entry = received[signal]
        entry["requests"] += 1
        entry["names"] |= names
        entry["services"] |= services
        entry["protocols"].add(protocol)


def snapshot():
    with lock:
        return {
            signal: {key: sorted(value) if isinstance(value, set) else value
                     for key, value in entry.items()}
            for signal, entry in received.items()
        }


def grpc_handler(signal):
    request_type, response_type, _ = SIGNALS[signal]

    def export(request, context):
        record(signal, request, "grpc")
        return response_type()

    return grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=request_type.FromString,
        response_serializer=response_type.SerializeToString)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_receiver/received":
            return self._answer(200, json.dumps(snapshot()).encode(), "application/json")
        self._answer(404, b"not found\n", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        signal = {"/v1/metrics": "metrics", "/v1/traces": "traces", "/v1/logs": "logs"}.get(self.path)
        if signal is None:
            return self._answer(404, b"not found\n", "text/plain")
        request_type, response_type, _ = SIGNALS[signal]
        if self.headers.get("Content-Type", "").startswith("application/json"):
            request = json_format.Parse(body, request_type())
            record(signal, request, "http/json")
            return self._answer(200, b"{}", "application/json")
        record(signal, request_type.FromString(body), "http/protobuf")
        self._answer(200, response_type().SerializeToString(), "application/x-protobuf")


if __name__ == "__main__":
    # PID 1 of a container gets no default signal handling: without this, SIGTERM is ignored
    # and the kubelet waits the whole grace period before killing the container.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(tuple(
        grpc.method_handlers_generic_handler(service, {"Export": grpc_handler(signal)})
        for signal, (_, _, service) in SIGNALS.items()))
    server.add_insecure_port("0.0.0.0:4317")
    server.start()
    http = ThreadingHTTPServer(("0.0.0.0", 4318), Handler)
    http.daemon_threads = True
    print("OTLP receiver: gRPC on 4317, HTTP on 4318", flush=True)
    http.serve_forever()
