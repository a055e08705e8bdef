"""How the plugin treats Telegram's servers (through the app's
ConnectionsManager) and waits it is told to keep, and a server URL that is
not TLS:
- a request to Telegram it stops waiting for is cancelled in the app;
- each request goes with DoNotWaitFloodWait, so that a flood wait reaches
  the plugin (the app's network layer keeps it to itself otherwise), and
  requestMainWebView without the app's InvokeAfter;
- FLOOD_WAIT_X from Telegram keeps that account off Telegram for X s, and
  the server's Retry-After (429, 503) holds the loops at least that long;
- a username is "not found" only when Telegram says so; no answer is no answer;
- Telegram sign-in over plain http:// to another machine goes on, with a
  warning; an https:// server whose certificate is refused is named as such;
- a connect that hangs ends in HTTP_TIMEOUT_SECONDS, long poll or not.
None of these needs the real server: the few HTTP answers come from small
loopback stand-ins, and the stand-in phone plays Telegram."""
import http.server
import json
import os
import socket
import ssl
import tempfile
import threading
import time
import types
import unittest

from fake_host import FakeHost, TelegramCloud, load_plugin_module
from loopback import serve_on_loopback, stop_serving
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

        self.server, self.url = serve_on_loopback(Handler)

    def stop(self):
        stop_serving(self.server)


def join(threads, timeout=5):
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread of the plugin did not end"


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
        with self.assertRaises(module.TelegramError) as caught:  # no answer is not "no such user"
            module.Telegram().resolve_user(0, "someone_else")
        self.assertEqual(str(caught.exception), "timeout")
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


DO_NOT_WAIT_FLOOD_WAIT, FAIL_ON_SERVER_ERRORS, INVOKE_AFTER = 1024, 2, 64


class FlagsTest(unittest.TestCase):
    def test_each_request_goes_with_do_not_wait_flood_wait(self):
        # exteraGram 12.8 sends resolveUsername and requestWebView without flags
        # and requestMainWebView with FailOnServerErrors | InvokeAfter; ours
        # add DoNotWaitFloodWait, and requestMainWebView drops InvokeAfter.
        host = phone()
        module = loaded(host)
        telegram = module.Telegram()
        self.assertIsNotNone(telegram.web_app_url(0, BOT_USERNAME, WEBAPP_URL))
        self.assertIsNotNone(telegram.web_app_url(0, BOT_USERNAME, None))
        self.assertEqual(host.request_flags, [
            (0, "TL_contacts_resolveUsername", DO_NOT_WAIT_FLOOD_WAIT),
            (0, "TL_messages_requestWebView", DO_NOT_WAIT_FLOOD_WAIT),
            (0, "TL_messages_requestMainWebView", FAIL_ON_SERVER_ERRORS | DO_NOT_WAIT_FLOOD_WAIT)])
        self.assertFalse(any(flags & INVOKE_AFTER for _a, _n, flags in host.request_flags))


class StandInFloodWaitTest(unittest.TestCase):
    """The stand-in's ConnectionsManager, as tgnet treats a 420: handed to
    the delegate only for a request with FailOnServerErrors or
    DoNotWaitFloodWait; else waited out in the app and sent again, the
    delegate called with the answer to that."""

    def send(self, host, flags, text="FLOOD_WAIT_1"):
        modules = host.modules()
        request = modules["org.telegram.tgnet"].TLRPC.TL_contacts_resolveUsername()
        request.username = BOT_USERNAME
        answers = []
        done = threading.Event()

        def answered(response, error):
            answers.append((response, error))
            done.set()
        host.answer_error("TL_contacts_resolveUsername", 420, text)
        manager = modules["org.telegram.tgnet"].ConnectionsManager.getInstance(0)
        return manager, manager.sendRequest(request, modules["client_utils"].RequestCallback(answered), flags), answers, done

    def test_with_either_flag_the_error_is_the_answer(self):
        for flags in (FAIL_ON_SERVER_ERRORS, DO_NOT_WAIT_FLOOD_WAIT, FAIL_ON_SERVER_ERRORS | INVOKE_AFTER):
            host = phone()
            _manager, _token, answers, done = self.send(host, flags)
            self.assertTrue(done.wait(2), flags)
            [(response, error)] = answers
            self.assertIsNone(response)
            self.assertEqual((error.code, error.text), (420, "FLOOD_WAIT_1"))
            self.assertEqual(host.pending, {})

    def test_without_them_the_app_waits_and_sends_again(self):
        for flags in (0, INVOKE_AFTER):
            host = phone()
            _manager, token, answers, done = self.send(host, flags)
            self.assertFalse(done.wait(0.6), flags)  # no word while the app waits
            self.assertEqual(list(host.pending), [(0, token)])
            self.assertTrue(done.wait(3), flags)  # sent again after the 1 s: the real answer
            [(response, error)] = answers
            self.assertIsNone(error)
            self.assertIsNotNone(response)
            self.assertEqual([name for _a, name, _d in host.requests], ["TL_contacts_resolveUsername"] * 2)

    def test_cancelled_while_the_app_waits_it_is_never_answered(self):
        host = phone()
        manager, token, answers, done = self.send(host, 0)
        manager.cancelRequest(token, True)
        self.assertFalse(done.wait(1.6))
        self.assertEqual((answers, host.pending, len(host.requests)), ([], {}, 1))

    def test_a_slow_mode_wait_is_always_the_answer(self):
        host = phone()
        _manager, _token, answers, done = self.send(host, 0, "SLOWMODE_WAIT_5")
        self.assertTrue(done.wait(2))
        self.assertEqual(answers[0][1].text, "SLOWMODE_WAIT_5")


class FloodWaitTest(PluginCase):
    def test_a_flood_wait_reaches_us_from_each_request(self):
        # Sent as the app sends them (resolveUsername and requestWebView with
        # no flags), the app would keep the 420 to itself: each would end in
        # our timeout and a cancel, with no wait to keep.
        for name, webapp_url in (("TL_contacts_resolveUsername", WEBAPP_URL), ("TL_messages_requestWebView", WEBAPP_URL),
                                 ("TL_messages_requestMainWebView", None)):
            host = phone()
            module = loaded(host, TELEGRAM_TIMEOUT_SECONDS=1.0)
            host.answer_error(name, 420, "FLOOD_WAIT_30")
            started = time.monotonic()
            with self.assertRaises(module.TelegramError, msg=name) as caught:
                module.Telegram().web_app_url(0, BOT_USERNAME, webapp_url)
            self.assertEqual((str(caught.exception), caught.exception.retry_after), ("FLOOD_WAIT_30", 30), name)
            self.assertLess(time.monotonic() - started, 0.9, name)  # the answer, not the timeout
            self.assertEqual(host.cancelled, [], name)

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
        module = loaded(host, TELEGRAM_TIMEOUT_SECONDS=1.0)
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
        module = loaded(host, TELEGRAM_TIMEOUT_SECONDS=1.0)
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
        plugin, _ = self.start(host, server_url="http://127.0.0.1:%d" % free_port(), api_key="k",
                               module_settings={"TELEGRAM_TIMEOUT_SECONDS": 1.0})
        self.assertEqual(self.send(plugin, host, ".wc @somebody"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(2), [("info", "WhatClient: looking up @somebody…"),
                                                      ("error", "WhatClient: too many questions for now; try again later")])
        self.assertIn("[whatclient] ask: busy: Telegram: FLOOD_WAIT_30", host.logs)


class NoAnswerFromTelegramTest(PluginCase):
    """Offline, timed out, cancelled by another plugin's pre-request hook, or
    an error that is not about the name: none of it means "no such user"."""

    def test_only_telegrams_word_makes_a_name_unknown(self):
        host = phone()
        module = loaded(host, TELEGRAM_TIMEOUT_SECONDS=0.3)
        telegram = module.Telegram()
        self.assertEqual(telegram.resolve_user(0, "no_one_has_this"), (module.UNKNOWN, None))  # USERNAME_NOT_OCCUPIED
        host.answer_error("TL_contacts_resolveUsername", 400, "USERNAME_INVALID")
        self.assertEqual(telegram.resolve_user(0, "no_one_can_have_this"), (module.UNKNOWN, None))
        host.answer_error("TL_contacts_resolveUsername", 400, "CONNECTION_LAYER_INVALID")
        host.hook_cancelled.add("TL_messages_requestWebView")  # not ours: resolveUsername goes
        failures = []
        for arrange in (lambda: None,  # the error above
                        lambda: host.hook_cancelled.add("TL_contacts_resolveUsername"),
                        lambda: (host.hook_cancelled.clear(), host.held.add("TL_contacts_resolveUsername"))):
            arrange()
            with self.assertRaises(module.TelegramError) as caught:
                telegram.resolve_user(0, BOT_USERNAME)
            failures.append((str(caught.exception), caught.exception.retry_after))
        self.assertEqual(failures, [("CONNECTION_LAYER_INVALID", None), ("no answer", None), ("timeout", None)])

    def ask_offline(self, arrange, language="en"):
        host = FakeHost(new_user(), language=language, resolvable={"someuser": new_user()})
        arrange(host)
        plugin, _ = self.start(host, server_url="http://127.0.0.1:%d" % free_port(), api_key="k",
                               module_settings={"TELEGRAM_TIMEOUT_SECONDS": 0.5})
        self.assertEqual(self.send(plugin, host, ".wc @someuser"), "cancelled")
        return host, host.wait_for_bulletins(2)

    def test_a_username_telegram_did_not_answer_for_is_not_called_unknown(self):
        for arrange, logged in ((lambda host: host.held.add("TL_contacts_resolveUsername"), "timeout"),
                                (lambda host: host.hook_cancelled.add("TL_contacts_resolveUsername"), "no answer")):
            host, bulletins = self.ask_offline(arrange)
            self.assertEqual(bulletins, [("info", "WhatClient: looking up @someuser…"),
                                         ("error", "WhatClient: Telegram did not answer; check your connection")])
            self.assertIn("[whatclient] ask: telegram: Telegram: %s" % logged, host.logs)
        _, bulletins = self.ask_offline(lambda host: host.held.add("TL_contacts_resolveUsername"), "ru")
        self.assertEqual(bulletins, [("info", "WhatClient: ищем @someuser…"),
                                     ("error", "WhatClient: Telegram не ответил; проверьте соединение")])

    def test_no_answer_is_shown_after_unload(self):
        # Telegram's answer comes just as the plugin is unloaded.
        def unloaded_on_answer(module):
            resolve = module.Telegram.resolve_user

            def resolve_user(telegram, *args, **kwargs):
                found = resolve(telegram, *args, **kwargs)
                self.plugins[-1].on_plugin_unload()
                return found
            module.Telegram.resolve_user = resolve_user
        for name, before in (("nobody_here", [("info", "WhatClient: looking up @nobody_here…")]),  # no such user
                             ("somenews", [])):  # a channel the app knows
            host = FakeHost(new_user())
            host.cache_channel(0, new_user(), "somenews")
            plugin, _ = self.start(host, server_url="http://127.0.0.1:%d" % free_port(), api_key="k",
                                   prepare=unloaded_on_answer)
            self.assertEqual(self.send(plugin, host, ".wc @" + name), "cancelled")
            join(plugin._wc_threads())  # the ask's, unless it has ended already
            self.assertTrue(plugin._wc_session.stopped.is_set())
            self.assertEqual(host.bulletins, before, name)

    def test_an_unload_while_telegram_is_silent_says_nothing_more(self):
        host = FakeHost(new_user(), resolvable={"someuser": new_user()})
        host.held.add("TL_contacts_resolveUsername")
        plugin, _ = self.start(host, server_url="http://127.0.0.1:%d" % free_port(), api_key="k")
        self.send(plugin, host, ".wc @someuser")
        eventually(lambda: host.pending != {})
        threads = plugin._wc_threads()
        plugin.on_plugin_unload()
        join(threads)
        self.assertEqual(host.bulletins, [("info", "WhatClient: looking up @someuser…")])
        self.assertEqual([(account, notify) for account, _token, notify in host.cancelled], [(0, True)])


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

    def test_an_http_date_is_measured_by_the_servers_clock(self):
        retry_after = self.module._retry_after
        http_date = lambda t: time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))
        # The server's clock is an hour behind the phone's: "90 s from now" by
        # its own Date, which the phone's clock would call an hour ago.
        server_now = time.time() - 3600
        self.assertEqual(retry_after(http_date(server_now + 90), http_date(server_now)), 90)
        # ... or an hour ahead: the phone's clock would make 90 s an hour.
        server_now = time.time() + 3600
        self.assertEqual(retry_after(http_date(server_now + 90), http_date(server_now)), 90)
        self.assertEqual(retry_after(http_date(server_now - 5), http_date(server_now)), 0)
        # No Date, or not a date: the phone's clock.
        soon = http_date(time.time() + 90)
        for date in (None, "", "yesterday"):
            self.assertAlmostEqual(retry_after(soon, date), 90, delta=3)
        self.assertEqual(retry_after("120", http_date(server_now)), 120)  # seconds need no clock

    def test_a_503_with_an_http_date_is_read_by_the_servers_clock(self):
        server_now = time.time() - 3600  # an hour behind: by the phone's clock the date is long past
        headers = {"Retry-After": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(server_now + 2)),
                   "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(server_now))}
        err = self.module._failure(503, {}, {k.lower(): v for k, v in headers.items()})  # headers as Endpoint.call gives them
        self.assertEqual((err.kind, err.retry_after), ("server", 2))

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


class ConnectTest(unittest.TestCase):
    """A connect that hangs (a host that drops the SYN: a black hole, a dead
    mobile network) ends after HTTP_TIMEOUT_SECONDS, never that plus the
    long-poll hold: an unload cannot cut a connect, so this is what it waits
    for. The long poll itself still gets its hold."""

    def setUp(self):
        self.module = loaded(FakeHost(1), HTTP_TIMEOUT_SECONDS=0.5)

    def hanging_url(self):
        # A listener whose accept queue (backlog 0) is full: the kernel drops
        # further SYNs, so a connect hangs as to a black-holed host.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler = socket.create_connection(listener.getsockname(), timeout=2)
        self.addCleanup(listener.close)
        self.addCleanup(filler.close)
        with socket.socket() as probe:
            probe.settimeout(0.3)
            with self.assertRaises(OSError):  # the stand-in holds: a connect hangs
                probe.connect(listener.getsockname())
        return "http://127.0.0.1:%d" % listener.getsockname()[1]

    def test_a_connect_that_hangs_ends_without_the_long_poll_hold(self):
        endpoint = self.module.Endpoint(self.hanging_url())
        with self.module.Session() as session:
            started = time.monotonic()
            with self.assertRaises(self.module.WcError) as caught:
                endpoint.call(session, "GET", "/v2/tasks", wait=3)
            took = time.monotonic() - started
        self.assertEqual(caught.exception.kind, "unreachable")
        self.assertLess(took, 2)  # 0.5 s; with the hold it would be 3.5 s

    def test_the_long_poll_still_gets_its_hold(self):
        stub = StubServer(lambda method, path: (time.sleep(1.5), (200, {}, {"tasks": []}))[1])
        self.addCleanup(stub.stop)
        with self.module.Session() as session:
            status, data, _headers = self.module.Endpoint(stub.url).call(session, "GET", "/v2/tasks", wait=2)
        self.assertEqual((status, data), (200, {"tasks": []}))


# A self-signed certificate for 127.0.0.1 (EC P-256, valid to 2126), and its key.
SELF_SIGNED_CERT = """-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUMxX73q4OUsePKARRFHouvGKc7LIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwMTA3MTAwMloYDzIxMjYxMTA3
MDcxMDAyWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQ3ET3M9ziu/itiOfMh5E3q7eNXc8ckw9fnMtESFcTLLiiMRTqvWVnS
coiiBDoWBg/zRdxhtUS9gjxM4j7f1CWfo2QwYjAdBgNVHQ4EFgQUos9le1x3TmOL
jtMqEOLToxZYDiQwHwYDVR0jBBgwFoAUos9le1x3TmOLjtMqEOLToxZYDiQwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQCaPnGC2+Fd4aGFgsJ2JEOQRVvlEHg1iIlGQZYGY9p71AIhAMtBAkqC28/ZylDs
J9qJBvuph7Ff+1NtuRXyBHhHc7QJ
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpPH4pr1mePccl6me
v2VkEqUoojh0ZrA7IeZdndDMRdahRANCAAQ3ET3M9ziu/itiOfMh5E3q7eNXc8ck
w9fnMtESFcTLLiiMRTqvWVnScoiiBDoWBg/zRdxhtUS9gjxM4j7f1CWf
-----END PRIVATE KEY-----
"""


class CertificateTest(PluginCase):
    """An https:// server whose certificate the phone does not accept is
    named as such, not as unreachable: no connection or retry fixes it."""

    def https_stub(self):
        stub = StubServer(lambda method, path: (200, {}, {"tasks": []}))
        self.addCleanup(stub.stop)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as pem:
            pem.write(SELF_SIGNED_CERT)
        self.addCleanup(os.unlink, pem.name)
        context.load_cert_chain(pem.name)
        stub.server.socket = context.wrap_socket(stub.server.socket, server_side=True)
        return stub.url.replace("http://", "https://")

    def check(self, host, url):
        plugin, _ = self.start(host, server_url=url, api_key="k")
        [check] = [s for s in plugin.create_settings() if s.kind == "Text"]
        check.on_click(None)
        return host.wait_for_bulletins(1)

    def test_a_certificate_that_is_not_accepted(self):
        host = FakeHost(new_user())
        self.assertEqual(self.check(host, self.https_stub()),
                         [("error", "WhatClient: the server's certificate was not accepted; check the server URL")])
        [line] = [line for line in host.logs if line.startswith("[whatclient] check:")]
        self.assertRegex(line, r"^\[whatclient\] check: tls: .*self[- ]signed certificate")
        self.assertNotIn(str(host.accounts[0]), "".join(host.logs))
        self.assertNotIn(host.package, "".join(host.logs))
        ru = FakeHost(new_user(), language="ru")
        self.assertEqual(self.check(ru, self.https_stub()),
                         [("error", "WhatClient: сертификат сервера не принят; проверьте адрес сервера")])

    def test_https_to_a_plain_http_server_is_no_certificate_matter(self):
        stub = StubServer(lambda method, path: (200, {}, {"tasks": []}))
        self.addCleanup(stub.stop)
        self.assertEqual(self.check(FakeHost(new_user()), stub.url.replace("http://", "https://")),
                         [("error", "WhatClient: the server is unreachable; check your connection and the server URL")])


class PlainHttpTest(PluginCase):
    """http:// to another machine: Telegram sign-in goes on, as over https://,
    and "Check connection" and the log say it crosses the network in clear."""

    IN_CLEAR_LOG = ("[whatclient] signing in over plain http:// to another machine: "
                    "the sign-in and its token cross the network in clear; use https://")

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

    def test_v2_goes_on_over_plain_http(self):
        # Refusing it broke LAN, Tailscale and emulator setups: with a key, v1
        # (answered only under EVERYONE, and a v2 server keeps v1 from users
        # who signed in); without one, nothing at all.
        with load_plugin_module(FakeHost(1)).Session() as session:
            for url in ("http://wc.example.org", "http://192.168.1.20:3000", "https://wc.example.org", "http://127.0.0.1:9"):
                for key, info in (("", {}), ("key", {}), ("key", {"v1_enabled": False})):
                    _module, server = self.server(url, key, **info)
                    self.assertTrue(server.uses_v2(session), (url, key, info))

    def v2_stub(self, host):
        """A v2 server on loopback that takes any init data for the phone's first account."""
        def answer(method, path):
            if path == "/v2/info":
                return 200, {}, V2_INFO
            if path == "/v2/session":
                return 200, {}, {"token": "t" * 40, "user_id": host.accounts[0], "expires_at": int(time.time()) + 86400}
            if path == "/v2/tasks":
                return 200, {}, {"tasks": []}
            return 404, {}, {}
        stub = StubServer(answer)
        self.addCleanup(stub.stop)
        return stub

    @staticmethod
    def as_another_machine(module):
        module._is_loopback = lambda host: False  # the stub listens on 127.0.0.1; count it as the LAN

    def test_check_connection_warns_and_the_log_says_it_once(self):
        host = phone()
        stub = self.v2_stub(host)
        plugin, _ = self.start(host, server_url=stub.url, api_key="", prepare=self.as_another_machine)
        [check] = [s for s in plugin.create_settings() if s.kind == "Text"]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(1), [(
            "info", "WhatClient: connected, signed in through Telegram, but over plain http://: the sign-in and "
                    "its token cross the network in clear, readable on the way; use https:// if you can")])
        eventually(lambda: ("GET", "/v2/tasks") in stub.calls)
        self.assertIn(("POST", "/v2/session"), stub.calls)
        self.assertEqual(host.logs.count(self.IN_CLEAR_LOG), 1)
        # One line in all, however often it signs in again; no URL, no id.
        server = plugin._wc_server()
        with self.assertRaises(AssertionError):
            eventually(lambda: host.logs.count(self.IN_CLEAR_LOG) > 1, timeout=0.5)
        with plugin._wc_session.child() as session:
            for _ in range(2):
                server.forget(0, host.accounts[0])
                server.token(session, 0, host.accounts[0])
        self.assertEqual(host.logs.count(self.IN_CLEAR_LOG), 1)
        self.assertEqual([line for line in host.logs if "http" in line], [self.IN_CLEAR_LOG])
        self.assertFalse([line for line in host.logs if str(host.accounts[0]) in line or "127.0.0.1" in line])

    def test_over_https_or_on_this_device_no_warning(self):
        host = phone()
        stub = self.v2_stub(host)
        plugin, _ = self.start(host, server_url=stub.url, api_key="")  # 127.0.0.1: this device
        [check] = [s for s in plugin.create_settings() if s.kind == "Text"]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(1), [("success", "WhatClient: connected, signed in through Telegram")])
        self.assertNotIn(self.IN_CLEAR_LOG, host.logs)

    def test_russian(self):
        module = load_plugin_module(FakeHost(1, language="ru"))
        self.assertEqual(module.text("ru", "connected_v2_in_clear"),
                         "WhatClient: соединение есть, вход через Telegram выполнен, но по простому http://: вход и "
                         "его токен идут по сети открыто, их можно прочитать по пути; по возможности используйте https://")
        self.assertNotIn("needs_https", "".join(module.TEXTS["en"]) + "".join(module.TEXTS["ru"]))


if __name__ == "__main__":
    unittest.main()
