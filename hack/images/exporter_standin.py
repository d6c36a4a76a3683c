"""A stand-in for containersol/locust_exporter in the real-node tests.

The module proxy refuses every version of github.com/ContainerSolutions/locust_exporter, so the
real exporter cannot be built on this machine. This keeps its contract: it reads
LOCUST_EXPORTER_URI (the master's web UI) and serves Prometheus metrics with the exporter's names
on LOCUST_EXPORTER_WEB_LISTEN_ADDRESS (":9646"), scraping the master's /stats/requests on each
request. It runs until it is stopped, like the real exporter, so a master Job completes only
because the sidecar is a native one. Python standard library only.
"""

import json
import os
import signal
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

URI = os.environ.get("LOCUST_EXPORTER_URI", "http://localhost:8089").rstrip("/")
LISTEN = os.environ.get("LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", ":9646")


def label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def metrics():
    lines = []
    try:
        with urllib.request.urlopen(URI + "/stats/requests", timeout=5) as answer:
            stats = json.load(answer)
    except Exception:  # the master is not up (yet, or any more)
        return "# HELP locust_up The current health status of the server (1 = UP, 0 = DOWN).\nlocust_up 0\n"
    lines.append("locust_up 1")
    lines.append(f"locust_users {stats.get('user_count', 0)}")
    lines.append(f"locust_workers_count {stats.get('worker_count', 0)}")
    lines.append(f"locust_running {1 if stats.get('state') == 'running' else 0}")
    lines.append(f"locust_requests_current_rps {{method=\"\",name=\"Aggregated\"}} {stats.get('total_rps', 0)}")
    lines.append(f"locust_requests_fail_ratio {stats.get('fail_ratio', 0)}")
    for entry in stats.get("stats", []):
        labels = f'method="{label(entry.get("method") or "")}",name="{label(entry.get("name"))}"'
        lines.append(f"locust_requests_num_requests{{{labels}}} {entry.get('num_requests', 0)}")
        lines.append(f"locust_requests_num_failures{{{labels}}} {entry.get('num_failures', 0)}")
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            body, status = b"see /metrics\n", 404
        else:
            body, status = metrics().encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    # PID 1 of a container gets no default signal handling: without this, SIGTERM is ignored
    # and the kubelet waits the whole grace period before killing the container.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, _, port = LISTEN.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    server.daemon_threads = True
    print(f"exporter stand-in serving {URI} on {LISTEN}", flush=True)
    server.serve_forever()
