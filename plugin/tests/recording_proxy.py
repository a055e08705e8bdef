"""A loopback HTTP proxy between the plugins under test and the real server:
it forwards every call as it is (long-polls included) and records what went
each way, so a test can read exactly what the server was sent and answered.
A test may also change one exchange (`tamper`) to play a server or network
that misbehaves."""
import http.client
import http.server
import threading
import urllib.parse

from loopback import serve_on_loopback, stop_serving

_FORWARDED = ("content-type", "accept", "authorization", "if-none-match", "x-signature")


class Exchange:
    """One call: what the client sent and what came back."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.status, self.answer_headers, self.answer = None, {}, b""

    @property
    def route(self):
        return "%s %s" % (self.method, urllib.parse.urlsplit(self.path).path)


class RecordingProxy:
    def __init__(self, upstream_url):
        upstream = urllib.parse.urlsplit(upstream_url)
        proxy = self
        self.exchanges = []
        self.lock = threading.Lock()
        # tamper(exchange) runs after the server answered and before the
        # client hears: it may change exchange.status / .answer /
        # .answer_headers, or return "drop" to hang up without an answer.
        self.tamper = None

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
                exchange = Exchange(self.command, self.path, {k.lower(): v for k, v in headers.items()}, body)
                with proxy.lock:
                    proxy.exchanges.append(exchange)
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=90)
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    exchange.status, exchange.answer = response.status, response.read()
                    exchange.answer_headers = {k.lower(): v for k, v in response.getheaders()}
                except OSError:
                    return  # the plugin hung up (unloaded mid-poll): nothing to relay
                finally:
                    connection.close()
                tamper = proxy.tamper
                if tamper is not None and tamper(exchange) == "drop":
                    self.close_connection = True
                    return
                self.send_response(exchange.status)
                for name in ("content-type", "etag", "cache-control", "retry-after", "www-authenticate"):
                    if name in exchange.answer_headers:
                        self.send_header(name, exchange.answer_headers[name])
                self.send_header("Content-Length", str(len(exchange.answer)))
                self.end_headers()
                try:
                    self.wfile.write(exchange.answer)
                except OSError:
                    pass

            do_GET = do_POST = forward

            def log_message(self, *args):
                pass

        self.server, self.url = serve_on_loopback(Handler)

    def calls(self, route=None, in_flight=False):
        """The exchanges so far (those of one route, as "GET /v2/tasks"):
        answered ones, and with `in_flight` those still waiting too (a held poll)."""
        with self.lock:
            seen = [e for e in self.exchanges if in_flight or e.status is not None]
        return [e for e in seen if route is None or e.route == route or e.route.startswith(route + "/")]

    def stop(self):
        stop_serving(self.server)
