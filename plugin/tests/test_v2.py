"""The plugin against a v2 server (../shared/PROTOCOL.md, "Version 2"): it
signs in through Telegram (the stand-in answers requestWebView with init data
signed by the test server's bot token), asks as the signed-in user, answers by
the user's consent, and falls back to v1 where the server has no v2.
Every v2 route is built: a route that went missing fails these tests."""
import hashlib
import hmac
import http.client
import http.server
import json
import threading
import time
import types
import unittest
import urllib.parse
import urllib.request

from fake_host import FakeHost, TelegramCloud, load_plugin_module
from loopback import serve_on_loopback, stop_serving
from server import ServerProcess
from test_plugin import PluginCase, eventually, new_user

KEY = "plugin-v2-test-key"
BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
BOT_USERNAME = "wc_test_bot"
WEBAPP_URL = "https://wc.example.org/v2/webapp"
MAIN_APP_URL = "https://wc.example.org/v2/main"

servers = {}


def setUpModule():
    telegram = dict(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_BOT_USERNAME=BOT_USERNAME)
    servers["v2"] = ServerProcess(KEY, WEBAPP_URL=WEBAPP_URL, **telegram)
    servers["main_app"] = ServerProcess(KEY, **telegram)
    servers["plain"] = ServerProcess(KEY)
    servers["v1_only"] = V1OnlyProxy(servers["plain"].url)


def tearDownModule():
    for server in servers.values():
        server.stop()


class V1OnlyProxy:
    """A server as old as v1: /v2/* answers 404, the rest goes to `upstream`."""

    def __init__(self, upstream_url):
        upstream = urllib.parse.urlsplit(upstream_url)

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                if self.path.startswith("/v2/"):
                    self.reply(404, b'{"detail": "Not Found"}')
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-signature", "accept")}
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    self.reply(response.status, response.read())
                except OSError:
                    pass  # the plugin hung up (unloaded mid-poll): nothing to relay
                finally:
                    connection.close()

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = forward

            def log_message(self, *args):
                pass

        self.server, self.url = serve_on_loopback(Handler)

    def stop(self):
        stop_serving(self.server)


FAST_BACKOFF = {"BACKOFF_BASE_SECONDS": 0.05, "BACKOFF_MAX_SECONDS": 0.2}


def web_views(host):
    return [(account, name) for account, name, _detail in host.requests if "WebView" in name]


class V2Case(PluginCase):
    def setUp(self):
        super().setUp()
        self.cloud = TelegramCloud()
        self.cloud.add_bot(BOT_TOKEN, BOT_USERNAME, webapp_url=WEBAPP_URL, main_app_url=MAIN_APP_URL)

    def start(self, host, server="v2", **settings):
        # A v2 user types the server URL only.
        url = servers[server].url
        return super().start(host, **dict({"server_url": url, "api_key": ""}, **settings))

    def phone(self, user_id=None, name="", **kwargs):
        user_id = user_id or new_user()
        self.cloud.add_user(user_id, first_name=name)
        return FakeHost(user_id, cloud=self.cloud, **kwargs)


class SignInTest(V2Case):
    def test_two_users_sign_in_through_telegram_and_the_answer_is_verified(self):
        alice, alice_host, _, bob_host = self.alice_and_bob("com.radolyn.ayugram")
        bob_id = bob_host.accounts[0]
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses AyuGram (verified)" % bob_id))
        self.assertEqual(web_views(alice_host), [(0, "TL_messages_requestWebView")])
        self.assertEqual([d for _a, n, d in alice_host.requests if "WebView" in n], [WEBAPP_URL])
        eventually(lambda: web_views(bob_host) == [(0, "TL_messages_requestWebView")])

    def test_one_token_per_logged_in_account(self):
        carol_host = self.phone(package="app.nicegram", extra_accounts=(new_user(),))
        self.start(carol_host)
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        first, second = carol_host.accounts[0], carol_host.accounts[1]
        self.assertEqual(self.ask(alice, alice_host, first, 2), ("success", "%d uses Nicegram (verified)" % first))
        self.assertEqual(self.ask(alice, alice_host, second, 4), ("success", "%d uses Nicegram (verified)" % second))
        self.assertEqual(self.ask(alice, alice_host, first, 6), ("success", "%d uses Nicegram (verified)" % first))
        self.assertEqual(sorted(web_views(carol_host)), [(0, "TL_messages_requestWebView"), (1, "TL_messages_requestWebView")])
        self.assertEqual(web_views(alice_host), [(0, "TL_messages_requestWebView")])

    def test_signs_in_again_after_the_server_refuses_a_token(self):
        alice, alice_host, bob, bob_host = self.alice_and_bob("app.nicegram")
        bob_id = bob_host.accounts[0]
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Nicegram (verified)" % bob_id))
        # Tokens the server no longer takes (as after its keys change): both sides get 401s.
        for plugin in (alice, bob):
            server = plugin._wc_server()
            with server._lock:
                server._tokens = {key: ("not-a-token-" + "x" * 40, held[1]) for key, held in server._tokens.items()}
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Nicegram (verified)" % bob_id))
        self.assertEqual(len(web_views(alice_host)), 2)
        eventually(lambda: len(web_views(bob_host)) == 2)

    def test_signs_in_through_telegram_once_per_logged_in_account(self):
        host = self.phone(extra_accounts=(new_user(),))
        plugin, _ = self.start(host)
        server = plugin._wc_server()
        with plugin._wc_session.child() as session:
            first = server.token(session, 0, host.accounts[0])
            again = server.token(session, 0, host.accounts[0])
            second = server.token(session, 1, host.accounts[1])
        self.assertEqual(first, again)
        self.assertNotEqual(first, second)
        self.assertEqual(sorted(web_views(host)), [(0, "TL_messages_requestWebView"), (1, "TL_messages_requestWebView")])

    def test_the_main_mini_app_when_the_server_names_no_mini_app_url(self):
        host = self.phone()
        plugin, _ = self.start(host, server="main_app")
        server = plugin._wc_server()
        with plugin._wc_session.child() as session:
            self.assertTrue(server.token(session, 0, host.accounts[0]))
        self.assertEqual(web_views(host), [(0, "TL_messages_requestMainWebView")])

    def test_a_failed_sign_in_is_explained(self):
        self.cloud.stale_init_data = True  # init data an hour old: the server refuses it
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        self.assertEqual(self.ask(alice, alice_host, new_user(), 2),
                         ("error", "WhatClient: could not sign in through Telegram; try again later"))

        lost = FakeHost(new_user())  # a Telegram that does not know the server's bot
        plugin, _ = self.start(lost)
        self.assertEqual(self.send(plugin, lost, ".wc 5"), "cancelled")
        self.assertEqual(self.final_bulletin(lost), ("error", "WhatClient: could not sign in through Telegram; try again later"))

    def test_unload_stops_the_v2_loops_at_once(self):
        bob_host = self.phone(extra_accounts=(new_user(),))
        bob, _ = self.start(bob_host)
        eventually(lambda: len(web_views(bob_host)) == 2)  # both accounts signed in, now polling
        threads = bob._wc_threads()
        self.assertEqual(len(threads), 3)
        bob.on_plugin_unload()
        self.plugins.remove(bob)
        for thread in threads:
            thread.join(timeout=3)
            self.assertFalse(thread.is_alive())

    def test_when_the_app_fails_during_sign_in_answering_backs_off_and_goes_on(self):
        bob_host = self.phone(package="app.nicegram")
        bob_id = bob_host.accounts[0]
        bob_host.fail("MessagesController.getInstance")  # a Java exception, as mid-login or mid-logout
        bob, _ = self.start(bob_host, module_settings=FAST_BACKOFF)
        eventually(lambda: sum("JavaException" in line for line in bob_host.logs) >= 2)  # tried again, and failed again
        bob_host.failing = set()
        eventually(lambda: web_views(bob_host) == [(0, "TL_messages_requestWebView")])
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Nicegram (verified)" % bob_id))
        # A failed sign-in like any other, never a bug; and the logs name no one.
        self.assertIn("[whatclient] sign-in: the app failed: JavaException", bob_host.logs)
        self.assertIn("[whatclient] answering: sign_in", bob_host.logs)
        self.assertEqual([line for line in bob_host.logs if "answering failed" in line or str(bob_id) in line], [])

    def test_answering_starts_again_after_an_unexpected_error(self):
        bob_host = self.phone(package="app.nicegram")
        bob_id = bob_host.accounts[0]
        calls = []

        def with_a_bug_once(module):
            loop = module.answer_loop_v2

            def answer_loop_v2(*args):
                calls.append(args)
                if len(calls) == 1:
                    raise RuntimeError("a bug")
                return loop(*args)
            module.answer_loop_v2 = answer_loop_v2
        self.start(bob_host, module_settings=FAST_BACKOFF, prepare=with_a_bug_once)
        eventually(lambda: len(calls) == 2)
        # The type alone: this may repeat every backoff, and the text may carry data.
        self.assertIn("[whatclient] answering failed: RuntimeError", bob_host.logs)
        self.assertFalse([line for line in bob_host.logs if "a bug" in line])
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Nicegram (verified)" % bob_id))

    def test_a_phone_clock_far_ahead_of_the_servers_does_not_sign_in_for_each_call(self):
        host = self.phone()
        module = load_plugin_module(host)
        # Two days ahead: past the token's whole life (SESSION_TTL_SECONDS, a day by default).
        module.time = types.SimpleNamespace(time=lambda: time.time() + 2 * 86400, monotonic=time.monotonic)
        server = module.Server(servers["v2"].url, "", module.Telegram())
        with module.Session() as session:
            first = server.token(session, 0, host.accounts[0])
            self.assertEqual(server.token(session, 0, host.accounts[0]), first)
            self.assertEqual(server.token(session, 0, host.accounts[0]), first)
        self.assertEqual(web_views(host), [(0, "TL_messages_requestWebView")])

    def test_confirming_a_setting_signs_no_one_in_again_unless_the_server_changed(self):
        bob_host = self.phone(package="app.nicegram", extra_accounts=(new_user(),))
        bob, module = self.start(bob_host)
        eventually(lambda: len(web_views(bob_host)) == 2)  # both accounts signed in
        server = bob._wc_server()
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        bob_id = bob_host.accounts[0]
        for policy in (module.CONTACTS, module.EVERYONE, module.NOBODY):
            bob_host.change_setting(bob, "answer_policy", policy)
        for key in ("server_url", "api_key"):  # confirmed as they were
            bob_host.change_setting(bob, key, bob.get_setting(key))
        # The choice holds at once, and no account signed in again for it.
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("info", "%d does not share which app they use. "
                         "If you are in their contacts, turning on “Show my name when I ask” may help." % bob_id))
        bob_host.change_setting(bob, "answer_policy", module.EVERYONE)
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Nicegram (verified)" % bob_id))
        self.assertEqual(len(web_views(bob_host)), 2)
        self.assertIs(bob._wc_server(), server)
        # Another server: its tokens are its own.
        bob_host.change_setting(bob, "server_url", servers["main_app"].url)
        self.assertIsNot(bob._wc_server(), server)
        eventually(lambda: len(web_views(bob_host)) == 4)

    def test_check_connection_signs_in(self):
        host = self.phone()
        plugin, _ = self.start(host)
        [check] = [s for s in plugin.create_settings() if s.kind == "Text"]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(1)[0], ("success", "WhatClient: connected, signed in through Telegram"))


class ConsentTest(V2Case):
    def bob(self, policy, package="app.nicegram", **kwargs):
        host = self.phone(package=package, **kwargs)
        plugin, _ = self.start(host, answer_policy=policy)
        return host, plugin, host.accounts[0]

    def test_each_choice_of_who_can_learn_my_app(self):
        alice_host = self.phone(name="Alice")
        alice, module = self.start(alice_host)
        alice_id = alice_host.accounts[0]
        everyone_host, _, everyone = self.bob(module.EVERYONE)
        contacts_host, _, contacts = self.bob(module.CONTACTS)
        contacts_host.add_contact(0, alice_id)
        stranger_host, _, stranger = self.bob(module.CONTACTS)
        nobody_host, _, nobody = self.bob(module.NOBODY)
        nobody_host.add_contact(0, alice_id)
        hint = " If you are in their contacts, turning on “Show my name when I ask” may help."

        # Anonymous, as by default.
        self.assertEqual(self.ask(alice, alice_host, everyone, 2), ("success", "%d uses Nicegram (verified)" % everyone))
        self.assertEqual(self.ask(alice, alice_host, contacts, 4), ("info", "%d does not share which app they use.%s" % (contacts, hint)))
        # Named: contacts see who asks.
        alice.set_setting("show_name", True)
        self.assertEqual(self.ask(alice, alice_host, contacts, 6), ("success", "%d uses Nicegram (verified)" % contacts))
        self.assertEqual(self.ask(alice, alice_host, stranger, 8), ("info", "%d does not share which app they use." % stranger))
        self.assertEqual(self.ask(alice, alice_host, nobody, 10), ("info", "%d does not share which app they use." % nobody))

    def test_the_notice_says_someone_or_the_name_the_asker_chose_to_show(self):
        alice_host = self.phone(name="Alice")
        alice, module = self.start(alice_host)
        alice_id = alice_host.accounts[0]
        bob_host, _, bob_id = self.bob(module.CONTACTS)
        bob_host.cache_user(0, alice_id)  # Bob's app knows Alice's name
        self.ask(alice, alice_host, bob_id, 2)
        self.assertEqual(bob_host.wait_for_bulletins(1),
                         [("info", "WhatClient: someone asked which app you use; not told, as your settings say")])
        alice.set_setting("show_name", True)
        bob_host.add_contact(0, alice_id)
        self.ask(alice, alice_host, bob_id, 4)
        self.assertEqual(bob_host.wait_for_bulletins(2)[1], ("info", "WhatClient: Alice asked which app you use, and was told"))

        quiet_host, quiet, quiet_id = self.bob(module.EVERYONE)
        quiet_host.change_setting(quiet, "notify_asks", False)
        self.assertEqual(self.ask(alice, alice_host, quiet_id, 6), ("success", "%d uses Nicegram (verified)" % quiet_id))
        self.assertEqual(quiet_host.bulletins, [])

    def test_when_the_app_cannot_tell_contacts_the_question_is_declined_and_answering_goes_on(self):
        alice_host = self.phone()
        alice, module = self.start(alice_host, show_name=True)
        bob_host, _, bob_id = self.bob(module.CONTACTS)
        bob_host.add_contact(0, alice_host.accounts[0])
        bob_host.fail("ContactsController")
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("info", "%d does not share which app they use." % bob_id))
        bob_host.failing = set()
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Nicegram (verified)" % bob_id))

    def test_a_v1_question_about_a_signed_in_user_counts_as_from_a_stranger(self):
        bob_host, _, bob_id = self.bob(1)  # my contacts
        eventually(lambda: web_views(bob_host) != [])
        body = json.dumps({"requester_id": new_user(), "target_id": bob_id}).encode()
        request = urllib.request.Request(servers["v2"].url + "/requestClient", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Signature": hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()})
        urllib.request.urlopen(request, timeout=10).read()
        self.assertEqual(bob_host.wait_for_bulletins(1),
                         [("info", "WhatClient: someone asked which app you use; not told, as your settings say")])

    def test_russian_texts(self):
        alice_host = self.phone(language="ru")
        alice, module = self.start(alice_host)
        _, _, bob_id = self.bob(module.NOBODY)
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("info", "%d не сообщает, каким приложением пользуется. "
                         "Если вы у него в контактах, может помочь настройка «Показывать моё имя, когда я спрашиваю»." % bob_id))


class WithoutServerTest(unittest.TestCase):
    """The parts of sign-in and consent that need no server: they run always."""

    def setUp(self):
        self.cloud = TelegramCloud()
        self.bot_id = self.cloud.add_bot(BOT_TOKEN, BOT_USERNAME, webapp_url=WEBAPP_URL, main_app_url=MAIN_APP_URL)

    def test_the_mini_app_url_carries_init_data_for_the_account_that_asks(self):
        second = new_user()
        host = FakeHost(new_user(), cloud=self.cloud, extra_accounts=(second,))
        module = load_plugin_module(host)
        telegram = module.Telegram()
        init_data = module.init_data_from(telegram.web_app_url(1, BOT_USERNAME, WEBAPP_URL))
        fields = dict(urllib.parse.parse_qsl(init_data, keep_blank_values=True))
        received = fields.pop("hash")
        check = "\n".join("%s=%s" % (key, fields[key]) for key in sorted(fields))
        secret = hmac.new(b"WebAppData", BOT_TOKEN.encode(), hashlib.sha256).digest()
        self.assertEqual(received, hmac.new(secret, check.encode(), hashlib.sha256).hexdigest())
        self.assertEqual(json.loads(fields["user"])["id"], second)
        self.assertIsNotNone(module.init_data_from(telegram.web_app_url(0, "@" + BOT_USERNAME, None)))
        self.assertEqual(host.requests, [
            (1, "TL_contacts_resolveUsername", BOT_USERNAME), (1, "TL_messages_requestWebView", WEBAPP_URL),
            (0, "TL_contacts_resolveUsername", BOT_USERNAME), (0, "TL_messages_requestMainWebView", None)])

    def test_init_data_is_url_decoded_once(self):
        init_data_from = load_plugin_module(FakeHost(1)).init_data_from
        self.assertEqual(init_data_from("https://x.org/app#tgWebAppData=a%3D1%26b%3D%2525%2B&tgWebAppVersion=9.1"), "a=1&b=%25+")
        self.assertIsNone(init_data_from("https://x.org/app#tgWebAppVersion=9.1"))
        self.assertIsNone(init_data_from("https://x.org/app?tgWebAppData=a%3D1"))
        self.assertIsNone(init_data_from(None))

    def token_server(self, lifetime):
        """(module, Server, issued, clock): a Server whose sign-in gives tokens
        living `lifetime` s (None: a life that cannot be told), on a
        monotonic clock the test moves."""
        module = load_plugin_module(FakeHost(1))
        clock = [1_000_000.0]
        module.time = types.SimpleNamespace(time=time.time, monotonic=lambda: clock[0])
        server = module.Server("http://127.0.0.1:9", "")
        issued = []

        def sign_in(_session, account, user_id):
            issued.append((account, user_id))
            return "token-%d" % len(issued), lifetime

        server._sign_in = sign_in
        return module, server, issued, clock

    def test_a_token_is_renewed_before_it_expires_and_kept_per_account(self):
        module, server, issued, clock = self.token_server(3600)
        with module.Session() as session:
            self.assertEqual(server.token(session, 0, 5), "token-1")
            self.assertEqual(server.token(session, 1, 6), "token-2")  # another account, its own token
            clock[0] += 3600 - module.RENEW_BEFORE_SECONDS - 1
            self.assertEqual(server.token(session, 0, 5), "token-1")
            clock[0] += 2
            self.assertEqual(server.token(session, 0, 5), "token-3")
        self.assertEqual(issued, [(0, 5), (1, 6), (0, 5)])

    def test_a_token_whose_life_cannot_be_told_is_kept_until_the_server_refuses_it(self):
        for lifetime in (None, 0, -86400):  # no Date from the server, and the phone's clock past expires_at
            module, server, issued, clock = self.token_server(lifetime)
            with module.Session() as session:
                self.assertEqual(server.token(session, 0, 5), "token-1")
                clock[0] += 7 * 86400
                self.assertEqual(server.token(session, 0, 5), "token-1")
                server.forget(0, 5, "token-1")  # as with_token does on a 401
                self.assertEqual(server.token(session, 0, 5), "token-2")
            self.assertEqual(len(issued), 2)

    def test_the_servers_date_header_is_read_in_each_of_its_forms(self):
        module = load_plugin_module(FakeHost(1))
        for date in ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"):
            self.assertEqual(module._http_date(date), 784111777, date)  # RFC 9110's three forms
        for broken in (None, "", "yesterday", "Sun, 06 Nov 99999999999 08:49:37 GMT"):
            self.assertIsNone(module._http_date(broken), broken)

    def test_who_may_learn_my_app(self):
        module = load_plugin_module(FakeHost(1))
        consents = module.consents
        friend, stranger = 11, 12
        is_contact = lambda user_id: user_id == friend
        named = {"request_id": "r", "requester_id": friend, "verified": True}
        anonymous = {"request_id": "r", "requester_id": None, "verified": True}
        from_v1 = {"request_id": "r", "requester_id": None, "verified": False}
        for task in (named, anonymous, from_v1, dict(named, requester_id=stranger)):
            self.assertTrue(consents(module.EVERYONE, task, is_contact))
            self.assertFalse(consents(module.NOBODY, task, is_contact))
        self.assertTrue(consents(module.CONTACTS, named, is_contact))
        self.assertFalse(consents(module.CONTACTS, anonymous, is_contact))
        self.assertFalse(consents(module.CONTACTS, from_v1, is_contact))
        self.assertFalse(consents(module.CONTACTS, dict(named, requester_id=stranger), is_contact))
        self.assertFalse(consents(module.CONTACTS, dict(named, verified=False), is_contact))


class FallbackTest(PluginCase):
    """Runs whether or not the server has v2: the proxy answers 404 for /v2/*."""

    def start(self, host, **settings):
        return super().start(host, **dict({"server_url": servers["v1_only"].url, "api_key": KEY}, **settings))

    def test_falls_back_to_v1_with_the_key_on_a_server_without_v2(self):
        bob_host = FakeHost(new_user(), package="app.nicegram")
        self.start(bob_host)
        alice_host = FakeHost(new_user())
        alice, _ = self.start(alice_host)
        bob_id = bob_host.accounts[0]
        self.assertEqual(self.send(alice, alice_host, ".wc %d" % bob_id), "cancelled")
        self.assertEqual(self.final_bulletin(alice_host), ("success", "%d uses Nicegram" % bob_id))
        self.assertEqual(web_views(alice_host) + web_views(bob_host), [])

        keyless_host = FakeHost(new_user())
        keyless, _ = self.start(keyless_host, api_key="")
        self.send(keyless, keyless_host, ".wc %d" % bob_id)
        self.assertEqual(self.final_bulletin(keyless_host),
                         ("error", "WhatClient: this server has no Telegram sign-in; enter its secret key in the plugin settings"))


if __name__ == "__main__":
    unittest.main()
