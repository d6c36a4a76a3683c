#!/usr/bin/env python3
"""Records what a real Locust master's web API answers, for the stats reader's unit tests.

Runs a small target (200 on /, 500 on /fail), a Locust master with the operator's flags and two
workers on loopback, polls /stats/requests through the run and saves one payload per state
(ready, running, stopped and settled) plus the CSV endpoints, under src/stats/testdata/.

    hack/record-locust-stats.py [LOCUST]     # LOCUST: the locust executable (default: from PATH)

The payloads are recorded, never hand-written: rerun this after changing the pinned Locust.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "src", "stats", "testdata")


class Target(BaseHTTPRequestHandler):
    def do_GET(self):
        status = 500 if self.path.startswith("/fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOCUSTFILE = """
from locust import HttpUser, task, constant

class Shopper(HttpUser):
    wait_time = constant(0.1)

    @task(3)
    def home(self):
        self.client.get("/")

    @task
    def cart(self):
        self.client.get("/cart")
{fail}
"""

FAIL_TASK = """
    @task
    def checkout(self):
        self.client.get("/fail/checkout", name="/checkout")
"""


def get(url):
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.read()


def record(locust, name, with_failures, base_path=""):
    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{target.server_address[1]}"
    bind, web = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        lf = os.path.join(tmp, "locustfile.py")
        with open(lf, "w") as f:
            f.write(LOCUSTFILE.format(fail=FAIL_TASK if with_failures else ""))
        extra = ["--web-base-path", base_path] if base_path else []
        master = subprocess.Popen(
            [locust, "-f", lf, "--host", host, "-u", "6", "-r", "6", "--run-time", "8s",
             "--master", f"--master-bind-port={bind}", "--expect-workers=2", "--autostart",
             "--autoquit", "20", "--enable-rebalancing", "--only-summary",
             "--web-host", "127.0.0.1", "--web-port", str(web), *extra],
            cwd=tmp, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{web}{base_path}"
        # The master first, so the "ready" payload shows no worker yet.
        saved = {}
        deadline = time.time() + 20
        while time.time() < deadline and "ready" not in saved:
            try:
                saved["ready"] = json.loads(get(base + "/stats/requests"))
            except OSError:
                time.sleep(0.2)
        workers = [subprocess.Popen(
            [locust, "-f", lf, "--worker", f"--master-port={bind}", "--master-host=127.0.0.1"],
            cwd=tmp, stderr=subprocess.DEVNULL) for _ in range(2)]
        stopped_at = None
        while time.time() < deadline + 30:
            payload = json.loads(get(base + "/stats/requests"))
            state = payload["state"]
            if state == "running" and payload["stats"][-1]["num_requests"] > 50:
                saved.setdefault("running", payload)
            if state == "stopped":
                stopped_at = stopped_at or time.time()
                if time.time() - stopped_at >= 3:
                    saved["stopped"] = payload
                    break
            time.sleep(0.5)
        saved["requests_csv"] = get(base + "/stats/requests/csv").decode()
        saved["failures_csv"] = get(base + "/stats/failures/csv").decode()
        report = get(base + "/stats/report")
        master.terminate()
        for p in [master, *workers]:
            p.wait(timeout=30)
        target.shutdown()
    for key in ("ready", "running", "stopped"):
        path = os.path.join(OUT, f"{name}-{key}.json")
        with open(path, "w") as f:
            json.dump(saved[key], f, indent=1, sort_keys=True)
            f.write("\n")
    for key in ("requests_csv", "failures_csv"):
        with open(os.path.join(OUT, f"{name}-{key.replace('_', '.')}"), "w") as f:
            f.write(saved[key])
    print(f"{name}: recorded; report {len(report)} bytes")


def main():
    locust = sys.argv[1] if len(sys.argv) > 1 else "locust"
    os.makedirs(OUT, exist_ok=True)
    version = subprocess.run([locust, "--version"], capture_output=True, text=True).stdout
    with open(os.path.join(OUT, "VERSION"), "w") as f:
        f.write(version.split(" from ")[0].strip() + "\n")
    record(locust, "ok", with_failures=False)
    record(locust, "failing", with_failures=True, base_path="/locust")


if __name__ == "__main__":
    main()
