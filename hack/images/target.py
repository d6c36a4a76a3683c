"""The HTTP target the real-node tests load, and the record of what reached it.

Every request except those under /_target/ is recorded: method, path and headers. Answers:
  /fail...             500 (a request Locust counts as failed)
  /status/<code>       that status
  anything else        200 "ok"
  GET /_target/requests  the record as JSON: {"total", "by_path", "by_method", "recent": [...]}
The port is $PORT (8080). Python standard library only.
"""

import collections
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECENT = 500
lock = threading.Lock()
total = 0
by_path = collections.Counter()
by_method = collections.Counter()
recent = collections.deque(maxlen=RECENT)
# The first request of each distinct (path, header set) is kept whole, so a test can read a value
# a locustfile reported once even after thousands of requests.
distinct = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body, content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        global total
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path.startswith("/_target/"):
            if path == "/_target/requests":
                with lock:
                    record = {
                        "total": total,
                        "by_path": dict(by_path),
                        "by_method": dict(by_method),
                        "recent": list(recent),
                        "distinct": list(distinct.values()),
                    }
                return self._answer(200, json.dumps(record), "application/json")
            return self._answer(404, "unknown target endpoint\n")
        entry = {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
        key = json.dumps([path, sorted(entry["headers"].items())])
        with lock:
            total += 1
            by_path[path] += 1
            by_method[self.command] += 1
            recent.append(entry)
            if key not in distinct and len(distinct) < 1000:
                distinct[key] = entry
        if path.startswith("/fail"):
            return self._answer(500, "failing on purpose\n")
        if path.startswith("/status/"):
            try:
                code = int(path.split("/")[2])
            except ValueError:
                code = 400
            return self._answer(code, f"status {code}\n")
        return self._answer(200, "ok\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


if __name__ == "__main__":
    # PID 1 of a container gets no default signal handling: without this, SIGTERM is ignored
    # and the kubelet waits the whole grace period before killing the container.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    print(f"target listening on {server.server_address}", flush=True)
    server.serve_forever()
