"""Stand-in HTTP servers of the tests' own, on a free loopback port: each
serves its handler on threads of its own until `stop_serving`."""
import http.server
import threading


def serve_on_loopback(handler):
    """(server, url): `handler` (a BaseHTTPRequestHandler class) served on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


def stop_serving(server):
    server.shutdown()
    server.server_close()
