"""How the plugin treats Telegram's servers (through the app's
ConnectionsManager) and waits it is told to keep, and a server URL that is
not TLS:
- a request to Telegram it stops waiting for is cancelled in the app;
- each request goes with the flags the app itself sends it with;
- FLOOD_WAIT_X from Telegram keeps that account off Telegram for X s, and
  the server's Retry-After (429, 503) holds the loops at least that long;
- no Telegram sign-in over plain http:// to another machine.
None of these needs the real server: the few HTTP answers come from small
loopback stand-ins, and the stand-in phone plays Telegram."""
import http.server
import json
import threading
import time
import types
import unittest

from fake_host import FakeHost, TelegramCloud, load_plugin_module
from test_plugin import PluginCase, eventually, free_port, new_user

BOT_TOKEN = "7000000002:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
BOT_USERNAME = "wc_wait_bot"
WEBAPP_URL = "https://wc.example.org/v2/webapp"
MAIN_APP_URL = "https://wc.example.org/v2/main"
V2_INFO = {"version": 2, "sign_in": True, "bot_username": BOT_USERNAME, "webapp_url": WEBAPP_URL,
           "v1_enabled": True, "max_wait_seconds": 25}
FAST = {"BACKOFF_BASE_SECONDS": 0.05, "BACKOFF_MAX_SECONDS": 0.2, "POLL_INTERVAL_SECONDS": 0.05}


def phone(*extra_accounts):
    cloud = TelegramCloud()
    cloud.add_bot(BOT_TOKEN, BOT_USERNAME, webapp_url=WEBAPP_URL, main_app_url=MAIN_APP_URL)
    return FakeHost(new_user(), cloud=cloud, extra_accounts=extra_accounts)


def loaded(host, **settings):
    module = load_plugin_module(host)
    for name, value in dict(FAST, **settings).items():
        setattr(module, name, value)
    return module


class StubServer:
    """A loopback HTTP server whose every answer is answer(method, path) ->
    (status, headers, JSON body); it counts the calls per path."""

    def __init__(self, answer):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                calls.append((self.command, path))
                status, headers, body = answer(self.command, path)
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = reply

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_for(target, session, seconds):
    """Runs target() on a thread for `seconds`, then closes `session` and checks the thread ended."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    time.sleep(seconds)
    session.close()
    thread.join(timeout=3)
    assert not thread.is_alive(), "the loop did not end when its session closed"


class CancelTest(unittest.TestCase):
    """What the plugin stops waiting for, it cancels in the app."""

    def test_a_request_that_times_out_is_cancelled(self):
        host = phone()
        module = loaded(host, TELEGRAM_TIMEOUT_SECONDS=0.3)
        host.held.add("TL_contacts_resolveUsername")  # no answer comes: no network, say
        self.assertEqual(module.Telegram().resolve_user(0, "someone_else"), (module.UNKNOWN, None))
        [(account, name, _flags)] = host.request_flags
        self.assertEqual((account, name), (0, "TL_contacts_resolveUsername"))
        self.assertEqual(host.cancelled, [(0, 1, True)])  # the token sendRequest gave, and tell the server
        self.assertEqual(host.pending, {})

    def test_a_request_is_cancelled_when_its_session_closes(self):
        host = phone(new_user())
        module = loaded(host)
        host.held.add("TL_messages_requestWebView")
        stopped = threading.Event()
        failed = []

        def sign_in():
            try:
                module.Telegram().web_app_url(1, BOT_USERNAME, WEBAPP_URL, stopped)
            except module.TelegramError as err:
                failed.append(str(err))

        thread = threading.Thread(target=sign_in, daemon=True)
        thread.start()
        eventually(lambda: host.pending != {})
        started = time.monotonic()
        stopped.set()
        thread.join(timeout=3)
        self.assertLess(time.monotonic() - started, 2)  # well before the 20 s timeout
        self.assertEqual(failed, ["stopped"])
        # Account 1's second request (resolveUsername was its first, token 1).
        self.assertEqual(host.cancelled, [(1, 2, True)])
        self.assertEqual(host.pending, {})

    def test_an_answered_request_is_not_cancelled(self):
        host = phone()
        module = loaded(host)
        self.assertIsNotNone(module.Telegram().web_app_url(0, BOT_USERNAME, WEBAPP_URL))
        self.assertEqual(host.cancelled, [])


class FlagsTest(unittest.TestCase):
    def test_each_request_goes_with_the_flags_the_app_uses(self):
        # exteraGram 12.8: UserNameResolver sends resolveUsername without flags;
        # BotWebViewSheet.requestWebView sends requestWebView without flags and
        # requestMainWebView with FailOnServerErrors | InvokeAfter.
        host = phone()
        module = loaded(host)
        telegram = module.Telegram()
        self.assertIsNotNone(telegram.web_app_url(0, BOT_USERNAME, WEBAPP_URL))
        self.assertIsNotNone(telegram.web_app_url(0, BOT_USERNAME, None))
        self.assertEqual(host.request_flags, [
            (0, "TL_contacts_resolveUsername", 0), (0, "TL_messages_requestWebView", 0),
            (0, "TL_messages_requestMainWebView", 2 | 64)])


class FloodWaitTest(PluginCase):
    def test_the_texts_telegram_sends(self):
        wait = load_plugin_module(FakeHost(1)).flood_wait_seconds
        self.assertEqual(wait("FLOOD_WAIT_3"), 3)
        self.assertEqual(wait("FLOOD_PREMIUM_WAIT_7"), 7)
        self.assertEqual(wait("FLOOD_WAIT_0"), 1)  # never "ask again at once"
        self.assertEqual(wait("FLOOD_WAIT_86400"), 3600)  # bounded
        for other in ("USERNAME_NOT_OCCUPIED", "FLOOD_WAIT_", "FLOOD_WAIT_x", "SLOWMODE_WAIT_5", "", None, "timeout"):
            self.assertIsNone(wait(other), other)

    def test_an_account_waits_out_its_flood_wait_before_asking_telegram_again(self):
        host = phone(new_user())
        module = loaded(host)
        clock = [1_000_000.0]
        module.time = types.SimpleNamespace(time=time.time, monotonic=lambda: clock[0], sleep=time.sleep)
        telegram = module.Telegram()
        host.answer_error("TL_contacts_resolveUsername", 420, "FLOOD_WAIT_30", account=0)
        with self.assertRaises(module.TelegramError) as caught:  # not "no such user": a wait
            telegram.resolve_user(0, BOT_USERNAME)
        self.assertEqual(caught.exception.retry_after, 30)
        sent = len(host.requests)
        clock[0] += 29
        with self.assertRaises(module.TelegramError) as caught:
            telegram.web_app_url(0, BOT_USERNAME, WEBAPP_URL)
        self.assertAlmostEqual(caught.exception.retry_after, 1)
        self.assertEqual(len(host.requests), sent)  # nothing was sent
        # Another account is not held back.
        self.assertEqual(telegram.resolve_user(1, BOT_USERNAME)[0], module.USER)
        clock[0] += 1.5
        self.assertIsNotNone(telegram.web_app_url(0, BOT_USERNAME, WEBAPP_URL))

    def test_a_flood_wait_during_sign_in_holds_the_answering_loop(self):
        host = phone()
        module = loaded(host)
        # The server is down: without the wait, the loop would sign in again within 0.2 s.
        server = module.Server("http://127.0.0.1:%d" % free_port(), "", module.Telegram())
        server._info, server._info_until = dict(V2_INFO), float("inf")
        host.answer_error("TL_messages_requestWebView", 420, "FLOOD_WAIT_3")
        session = module.Session()
        errors = []
        run_for(lambda: module.answer_loop_v2(server, session, 0, host.accounts[0], "a.b", lambda task: True,
                                              on_error=errors.append), session, 1.5)
        self.assertEqual([name for _a, name, _d in host.requests],
                         ["TL_contacts_resolveUsername", "TL_messages_requestWebView"])
        self.assertEqual([(e.kind, getattr(e, "retry_after", None)) for e in errors], [(module.SIGN_IN, 3)])

    def test_a_flood_wait_on_a_username_is_explained(self):
        host = phone()
        host.answer_error("TL_contacts_resolveUsername", 420, "FLOOD_WAIT_30")
        plugin, _ = self.start(host, server_url="http://127.0.0.1:%d" % free_port(), api_key="k")
        self.assertEqual(self.send(plugin, host, ".wc @somebody"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(1), [("error", "WhatClient: too many questions for now; try again later")])
        self.assertIn("[whatclient] ask: busy: Telegram: FLOOD_WAIT_30", host.logs)


class RetryAfterTest(unittest.TestCase):
    def setUp(self):
        self.module = loaded(FakeHost(1))

    def test_the_header_in_both_forms_and_bounded(self):
        retry_after = self.module._retry_after
        self.assertEqual(retry_after("120"), 120)
        self.assertEqual(retry_after(" 0 "), 0)
        self.assertEqual(retry_after("99999999999999999999"), 3600)
        soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 90))
        self.assertAlmostEqual(retry_after(soon), 90, delta=3)
        past = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - 90))
        self.assertEqual(retry_after(past), 0)
        for broken in (None, "", "soon", "-5", "1.5", "١٢"):
            self.assertIsNone(retry_after(broken), broken)

    def test_a_loop_waits_at_least_as_long_as_it_was_told_and_no_longer_than_the_bound(self):
        WcError, pause_after = self.module.WcError, self.module.pause_after
        self.assertGreaterEqual(pause_after(WcError("busy", "", 10), 1), 10)
        self.assertEqual(pause_after(WcError("busy", "", 10 ** 9), 1), 3600)
        self.assertLessEqual(pause_after(WcError("server", "", None), 1), 0.2)

    def loop_against(self, status, headers, v2=False):
        """Runs an answer loop for 1.5 s against a server that answers every
        poll with `status`; returns the calls it made and the errors it saw."""
        stub = StubServer(lambda method, path: (status, headers, {"detail": "later"}))
        self.addCleanup(stub.stop)
        session = self.module.Session()
        errors = []
        if v2:
            server = self.module.Server(stub.url, "")
            server._info, server._info_until = dict(V2_INFO), float("inf")
            server._tokens[(0, 42)] = ("token", float("inf"))
            loop = lambda: self.module.answer_loop_v2(server, session, 0, 42, "a.b", lambda task: True,
                                                      on_error=errors.append)
        else:
            v1 = self.module.Server(stub.url, "key").v1()
            loop = lambda: self.module.answer_loop(v1, session, 42, "a.b", errors.append)
        run_for(loop, session, 1.5)
        return stub.calls, errors

    def test_a_429_holds_the_v1_loop_for_its_retry_after(self):
        calls, errors = self.loop_against(429, {"Retry-After": "1"})
        self.assertEqual(len(calls), 2)  # at 0 s and after 1 s; the backoff alone would be ~every 0.1 s
        self.assertEqual([(e.kind, getattr(e, "retry_after", None)) for e in errors], [("busy", 1)] * 2)

    def test_a_503_holds_the_v2_loop_for_its_retry_after(self):
        calls, errors = self.loop_against(503, {"Retry-After": "2"}, v2=True)
        self.assertEqual(calls, [("GET", "/v2/tasks")])
        self.assertEqual([(e.kind, getattr(e, "retry_after", None)) for e in errors], [("server", 2)])

    def test_without_retry_after_the_backoff_alone(self):
        calls, errors = self.loop_against(503, {})
        self.assertGreater(len(calls), 3)
        self.assertTrue(all(getattr(e, "retry_after", None) is None for e in errors))


class PlainHttpTest(PluginCase):
    """http:// to another machine: v1 goes on, Telegram sign-in does not."""

    def test_which_urls_are_in_clear(self):
        Endpoint = load_plugin_module(FakeHost(1)).Endpoint
        for url in ("http://wc.example.org", "http://10.0.0.2:8080", "http://[2001:db8::1]/wc",
                    "http://localhost.example.org", "http://128.0.0.1", "http://[::2]"):
            self.assertTrue(Endpoint(url).in_clear, url)
        for url in ("https://wc.example.org", "https://10.0.0.2", "http://localhost:3000", "http://LOCALHOST.",
                    "http://127.0.0.1:3000", "http://127.8.9.10", "http://[::1]:3000/wc"):
            self.assertFalse(Endpoint(url).in_clear, url)

    def server(self, url, key, **info):
        module = load_plugin_module(FakeHost(1))
        server = module.Server(url, key, module.Telegram())
        server._info, server._info_until = dict(V2_INFO, **info), float("inf")
        return module, server

    def test_v2_is_refused_and_v1_goes_on_with_a_key(self):
        module, server = self.server("http://wc.example.org", "")
        with module.Session() as session:
            with self.assertRaises(module.WcError) as caught:
                server.uses_v2(session)
            self.assertEqual((caught.exception.kind, caught.exception.detail), ("config", "needs_https"))
            with self.assertRaises(module.WcError) as caught:  # whoever asks for a token
                server.token(session, 0, 5)
            self.assertEqual(caught.exception.detail, "needs_https")
            module, server = self.server("http://wc.example.org", "key")
            self.assertFalse(server.uses_v2(session))  # the user's key: v1, as with an older server
            module, server = self.server("http://wc.example.org", "key", v1_enabled=False)
            with self.assertRaises(module.WcError) as caught:
                server.uses_v2(session)
            self.assertEqual(caught.exception.detail, "needs_https")
            for url in ("https://wc.example.org", "http://127.0.0.1:9"):
                module, server = self.server(url, "key")
                self.assertTrue(server.uses_v2(session), url)

    def test_the_user_is_told_to_use_https(self):
        host = phone()

        def a_v2_server(module):
            module.V2.info = lambda self, session: dict(V2_INFO)  # the URL names no server we can reach
        plugin, _ = self.start(host, server_url="http://wc.example.org", api_key="", prepare=a_v2_server)
        needs_https = ("error", "WhatClient: signing in through Telegram needs a server URL with https:// "
                                "(http:// only for a server on this device); check the plugin settings")
        self.assertEqual(self.send(plugin, host, ".wc 5"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(2)[1], needs_https)
        [check] = [s for s in plugin.create_settings() if s.kind == "Text"]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(3)[2], needs_https)
        eventually(lambda: "[whatclient] not answering: needs_https" in host.logs)
        self.assertEqual(host.requests, [])  # nothing asked of Telegram: no init data made

    def test_russian(self):
        module = load_plugin_module(FakeHost(1, language="ru"))
        self.assertEqual(module._error_text("ru", module.WcError(module.CONFIG, "needs_https")),
                         "WhatClient: для входа через Telegram адрес сервера должен начинаться с https:// "
                         "(http:// — только для сервера на этом устройстве); проверьте настройки плагина")


if __name__ == "__main__":
    unittest.main()
