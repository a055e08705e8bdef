"""Sealed answers over the real server (../shared/PROTOCOL.md, "Sealed
answers"), between plugins and between a plugin and the TypeScript SDK (the
built `whatclient` CLI as a child process): a recording proxy between the
clients and the server shows what the server was sent and answered, and the
server's own output shows what it logged. The plugin asks sealed, opens the
answer, names the app from the catalogue (cached by its ETag), answers sealed
tasks sealed and plain tasks plain, and declines a task it cannot seal to."""
import json
import os
import signal
import subprocess
import unittest
import urllib.error
import urllib.request
import uuid

from fake_host import FakeHost, TelegramCloud
from recording_proxy import RecordingProxy
from server import CLI, ROOT, ServerProcess
from test_plugin import PluginCase, eventually, new_user

KEY = "plugin-sealed-test-key"
BOT_TOKEN = "7000000002:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
BOT_USERNAME = "wc_sealed_bot"
WEBAPP_URL = "https://wc.example.org/v2/webapp"
TELEGRAM = dict(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_BOT_USERNAME=BOT_USERNAME, WEBAPP_URL=WEBAPP_URL)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")

servers = {}


def setUpModule():
    servers["v2"] = ServerProcess(KEY, **TELEGRAM)


def tearDownModule():
    for server in servers.values():
        server.stop()


def canary():
    """A package name no catalogue knows and nothing else in a test run says."""
    return "org.canary.sealed%s" % uuid.uuid4().hex[:12]


def http_json(url, method="GET", payload=None, token=None):
    """(status, parsed body) of one call, as a test's own client makes it."""
    body = None if payload is None else json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


class SealedCase(PluginCase):
    def setUp(self):
        super().setUp()
        self.cloud = TelegramCloud()
        self.bot_id = self.cloud.add_bot(BOT_TOKEN, BOT_USERNAME, webapp_url=WEBAPP_URL)
        self.proxy = RecordingProxy(servers["v2"].url)
        self.addCleanup(self.proxy.stop)

    def phone(self, package="com.radolyn.ayugram", **kwargs):
        user_id = new_user()
        self.cloud.add_user(user_id)
        return FakeHost(user_id, cloud=self.cloud, package=package, **kwargs)

    def start(self, host, url=None, **settings):
        return super().start(host, **dict({"server_url": url or self.proxy.url, "api_key": ""}, **settings))

    def sign_in(self, user_id, url=None):
        """A token for `user_id`, signed in as a test's own v2 client would."""
        self.cloud.add_user(user_id)
        status, data = http_json((url or servers["v2"].url) + "/v2/session", "POST",
                                 {"init_data": self.cloud.init_data(self.bot_id, user_id)})
        self.assertEqual(status, 200, data)
        return data["token"]

    def bodies(self):
        """Everything that crossed the proxy, both ways, as text."""
        return "\n".join("%s %s\n%s\n%s" % (e.route, e.headers, e.body.decode("utf-8", "replace"),
                                            e.answer.decode("utf-8", "replace")) for e in self.proxy.calls())


class SealedFlowTest(SealedCase):
    def test_the_server_relays_only_ciphertext_and_the_asker_names_the_app(self):
        package = canary()
        alice, alice_host, _, bob_host = self.alice_and_bob(package)
        bob_id = bob_host.accounts[0]
        # Not in the catalogue: named as the catalogue's "unknown" says.
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Unknown Client (verified)" % bob_id))

        [asked] = self.proxy.calls("POST /v2/requests")
        public_key = json.loads(asked.body)["public_key"]
        self.assertRegex(public_key, r"^[A-Za-z0-9_-]{43}$")
        request_id = json.loads(asked.answer)["request_id"]
        listed = [t for e in self.proxy.calls("GET /v2/tasks") for t in json.loads(e.answer)["tasks"]]
        self.assertEqual([(t["request_id"], t["public_key"]) for t in listed], [(request_id, public_key)])
        [answered] = self.proxy.calls("POST /v2/answers")
        sent = json.loads(answered.body)
        self.assertEqual(sorted(sent), ["request_id", "sealed"])
        self.assertEqual(answered.status, 200)
        [result] = [json.loads(e.answer) for e in self.proxy.calls("GET /v2/requests") if b"completed" in e.answer]
        self.assertEqual(result, {"status": "completed", "sealed": sent["sealed"], "verified": True})
        # The package name crossed the wire nowhere, in no direction.
        self.assertNotIn(package, self.bodies())
        # The key pair is gone with its request, and was never logged or kept in settings.
        self.assertEqual(len(alice._wc_server().ask_keys), 0)
        self.assertNotIn(public_key, "\n".join(alice_host.logs + bob_host.logs))
        self.assertNotIn(public_key, json.dumps(alice._settings, default=str))

    def test_a_known_app_is_named_from_the_catalogue_which_is_kept_by_its_etag(self):
        alice, alice_host, _, bob_host = self.alice_and_bob("com.radolyn.ayugram")
        bob_id = bob_host.accounts[0]
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses AyuGram (verified)" % bob_id))
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses AyuGram (verified)" % bob_id))
        [first] = self.proxy.calls("GET /v2/catalogue")  # fresh for its max-age: read once
        self.assertEqual(first.status, 200)
        self.assertNotIn("if-none-match", first.headers)
        etag = first.answer_headers["etag"]

        # A server that says max-age=0: each answer revalidates, and a 304 keeps the copy.
        def no_max_age(exchange):
            if exchange.route == "GET /v2/catalogue":
                exchange.answer_headers["cache-control"] = "max-age=0"
        self.proxy.tamper = no_max_age
        alice._wc_server()._catalogue = None  # as if never read, so the next read hears max-age=0
        self.assertEqual(self.ask(alice, alice_host, bob_id, 6), ("success", "%d uses AyuGram (verified)" % bob_id))
        self.assertEqual(self.ask(alice, alice_host, bob_id, 8), ("success", "%d uses AyuGram (verified)" % bob_id))
        _, reread, revalidated = self.proxy.calls("GET /v2/catalogue")
        self.assertEqual((reread.status, revalidated.status), (200, 304))
        self.assertEqual(revalidated.headers.get("if-none-match"), etag)
        self.assertEqual(revalidated.answer, b"")

    def test_without_a_catalogue_the_last_one_read_or_the_package_name(self):
        alice, alice_host, _, bob_host = self.alice_and_bob("app.nicegram")
        bob_id = bob_host.accounts[0]

        def catalogue_down(exchange):
            if exchange.route == "GET /v2/catalogue":
                exchange.status, exchange.answer = 503, b'{"detail": "down"}'
        self.proxy.tamper = catalogue_down
        # Never read one: the answer is not lost for a name, the package name is shown.
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses app.nicegram (verified)" % bob_id))
        self.proxy.tamper = None
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Nicegram (verified)" % bob_id))
        server = alice._wc_server()
        server._catalogue = server._catalogue[:3] + (0.0,)  # past its max-age
        self.proxy.tamper = catalogue_down
        self.assertEqual(self.ask(alice, alice_host, bob_id, 6), ("success", "%d uses Nicegram (verified)" % bob_id))
        self.assertEqual([e.status for e in self.proxy.calls("GET /v2/catalogue")], [503, 200, 503])

    def test_asking_again_after_a_lost_reply_reuses_the_key_and_finds_the_answer(self):
        alice_host = self.phone()
        alice, _ = self.start(alice_host)
        bob_host = self.phone(package="app.nicegram")
        bob_id = bob_host.accounts[0]
        dropped = []

        def lose_the_first_ask(exchange):
            if exchange.route == "POST /v2/requests" and not dropped:
                dropped.append(exchange)
                return "drop"
        self.proxy.tamper = lose_the_first_ask
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2),
                         ("error", "WhatClient: the server is unreachable; check your connection and the server URL"))
        self.assertEqual(len(alice._wc_server().ask_keys), 1)  # the server may have the request: the key stays
        self.start(bob_host)  # Bob answers from now on
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Nicegram (verified)" % bob_id))
        first, second = self.proxy.calls("POST /v2/requests")
        self.assertEqual(json.loads(first.body)["public_key"], json.loads(second.body)["public_key"])
        self.assertEqual(json.loads(first.answer)["request_id"], json.loads(second.answer)["request_id"])
        self.assertEqual(len(self.proxy.calls("POST /v2/answers")), 1)
        self.assertEqual(len(alice._wc_server().ask_keys), 0)
        # Asked again once answered: a fresh key, so a fresh request.
        self.assertEqual(self.ask(alice, alice_host, bob_id, 6), ("success", "%d uses Nicegram (verified)" % bob_id))
        third = self.proxy.calls("POST /v2/requests")[2]
        self.assertNotEqual(json.loads(third.body)["public_key"], json.loads(first.body)["public_key"])

    def test_an_answer_that_does_not_open_or_comes_plain_is_refused(self):
        alice, alice_host, _, bob_host = self.alice_and_bob("app.nicegram")
        bob_id = bob_host.accounts[0]
        unreadable = ("error", "WhatClient: the answer came, but could not be opened with this question's key; ask again")

        def flip_a_bit(exchange):
            if exchange.route.startswith("GET /v2/requests/") and b'"completed"' in exchange.answer:
                data = json.loads(exchange.answer)
                text = data["sealed"]["ciphertext"]
                data["sealed"]["ciphertext"] = ("B" if text[0] == "A" else "A") + text[1:]
                exchange.answer = json.dumps(data).encode()
        self.proxy.tamper = flip_a_bit
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), unreadable)

        def plain_instead(exchange):  # a server that read the answer would hand it over in plain
            if exchange.route.startswith("GET /v2/requests/") and b'"completed"' in exchange.answer:
                exchange.answer = json.dumps({"status": "completed", "client_name": "Nicegram",
                                              "package_name": "app.nicegram", "verified": True}).encode()
        self.proxy.tamper = plain_instead
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), unreadable)
        self.assertEqual(len(alice._wc_server().ask_keys), 0)


class AnsweringTest(SealedCase):
    """Bob's plugin against questions a test's own v2 client asks."""

    def result(self, token, request_id):
        status, data = http_json(servers["v2"].url + "/v2/requests/%s?wait=20" % request_id, token=token)
        self.assertEqual(status, 200, data)
        return data

    def test_plain_tasks_plain_sealed_tasks_sealed_unusable_keys_declined(self):
        bob_host = self.phone(package="app.nicegram")
        bob, module = self.start(bob_host)
        bob_id = bob_host.accounts[0]
        carol_id = new_user()
        carol = self.sign_in(carol_id)
        url = servers["v2"].url

        # Plain: answered plain, and the server names the app.
        status, asked = http_json(url + "/v2/requests", "POST", {"target_id": bob_id}, carol)
        self.assertEqual(status, 200, asked)
        self.assertEqual(self.result(carol, asked["request_id"]),
                         {"status": "completed", "client_name": "Nicegram", "package_name": "app.nicegram", "verified": True})

        # Sealed: answered sealed; only Carol's key opens it.
        private_key, public_key = module.make_key_pair()
        status, asked = http_json(url + "/v2/requests", "POST",
                                  {"target_id": bob_id, "public_key": module.b64url_encode(public_key)}, carol)
        self.assertEqual(status, 200, asked)
        result = self.result(carol, asked["request_id"])
        self.assertEqual(sorted(result), ["sealed", "status", "verified"])
        self.assertEqual(module.open_from_wire(private_key, result["sealed"], asked["request_id"]), "app.nicegram")

        # A key no one can seal to (the all-zero point passes the server's format check): declined, never plain.
        status, asked = http_json(url + "/v2/requests", "POST",
                                  {"target_id": bob_id, "public_key": module.b64url_encode(bytes(32))}, carol)
        self.assertEqual(status, 200, asked)
        self.assertEqual(self.result(carol, asked["request_id"]), {"status": "declined"})
        eventually(lambda: any("cannot seal" in line for line in bob_host.logs))
        # Bob was told of the two he answered, and not blamed for the third.
        self.assertEqual(bob_host.wait_for_bulletins(2), [("info", "WhatClient: someone asked which app you use, and was told")] * 2)
        self.assertEqual(len(bob_host.bulletins), 2)
        # The proxy records an exchange once its reply is relayed, which can be just after Carol reads the result.
        eventually(lambda: len(self.proxy.calls("POST /v2/answers")) >= 3)
        answers = [json.loads(e.body) for e in self.proxy.calls("POST /v2/answers")]
        self.assertEqual([sorted(a) for a in answers],
                         [["package_name", "request_id"], ["request_id", "sealed"], ["declined", "request_id"]])


class InteropTest(SealedCase):
    """The plugin and the SDK, each sealing what the other opens, over the real
    server: the other side is the CLI an operator runs (`whatclient ask` and
    `whatclient answer --init-data`, sealed by default), signing in with init
    data from `whatclient init-data` (the server's bot token, as Telegram signs)."""

    def cli(self, *args, **kwargs):
        env = dict(os.environ, TELEGRAM_BOT_TOKEN=BOT_TOKEN)
        for name in ("WHATCLIENT_URL", "WHATCLIENT_KEY", "WHATCLIENT_INIT_DATA", "API_SECRET_KEY"):
            env.pop(name, None)
        return subprocess.Popen(["node", CLI] + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kwargs)

    def init_data(self, user_id):
        out, err = self.cli("init-data", "--user", str(user_id)).communicate(timeout=60)
        self.assertTrue(out.strip(), err)
        return out.strip()

    def ask_with_cli(self, target, *flags):
        asker = self.cli("ask", str(target), "--server", self.proxy.url, "--init-data", self.init_data(new_user()), *flags)
        try:
            out, err = asker.communicate(timeout=90)
        finally:
            if asker.poll() is None:
                asker.kill()
        self.assertEqual(asker.returncode, 0, out + err)
        return out

    def traffic_without_catalogue(self):
        return "\n".join(e.body.decode("utf-8", "replace") + e.answer.decode("utf-8", "replace")
                         for e in self.proxy.calls() if e.route != "GET /v2/catalogue")

    def test_the_plugin_seals_and_the_sdk_opens(self):
        package = canary()
        bob_host = self.phone(package=package)
        self.start(bob_host)
        bob_id = bob_host.accounts[0]
        out = self.ask_with_cli(bob_id, "--json")
        # The CLI could only print the package by opening what Bob's plugin sealed.
        self.assertEqual(json.loads(out), {"status": "completed", "target": bob_id, "client_name": "Unknown Client",
                                           "package_name": package, "verified": True, "sealed": True})
        [asked] = self.proxy.calls("POST /v2/requests")
        self.assertIn("public_key", json.loads(asked.body))
        [answered] = self.proxy.calls("POST /v2/answers")
        self.assertEqual(sorted(json.loads(answered.body)), ["request_id", "sealed"])
        self.assertNotIn(package, self.traffic_without_catalogue())

        # A known app, as a person reads it: named from the catalogue.
        known_host = self.phone(package="com.radolyn.ayugram")
        self.start(known_host)
        known_id = known_host.accounts[0]
        out = self.ask_with_cli(known_id)
        self.assertIn("%d uses AyuGram (com.radolyn.ayugram): verified, sealed" % known_id, out)

    def test_the_sdk_seals_and_the_plugin_opens(self):
        bob_id = new_user()
        answerer = self.cli("answer", "--server", self.proxy.url, "--init-data", self.init_data(bob_id),
                            "--package", "app.nicegram")
        try:
            eventually(lambda: self.proxy.calls("GET /v2/tasks", in_flight=True) or answerer.poll() is not None, timeout=30)
            self.assertIsNone(answerer.poll(), "the CLI's answer stopped")
            alice_host = self.phone()
            alice, _ = self.start(alice_host)
            # The plugin could only name Nicegram by opening what the SDK sealed to its key.
            self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Nicegram (verified)" % bob_id))
        finally:
            answerer.send_signal(signal.SIGTERM)
            _, err = answerer.communicate(timeout=30)
        self.assertIn("answered 1: anonymous, verified, sealed", err)
        [asked] = self.proxy.calls("POST /v2/requests")
        self.assertIn("public_key", json.loads(asked.body))
        [answered] = self.proxy.calls("POST /v2/answers")
        self.assertEqual(sorted(json.loads(answered.body)), ["request_id", "sealed"])
        self.assertNotIn("app.nicegram", self.traffic_without_catalogue())


class ServerLogsTest(SealedCase):
    """What the server writes during sealed flows between two plugins names no
    package (its own log; the TypeScript suite reads its heap and keyspace)."""

    def flow(self, env):
        """Alice's plugin asks Bob's twice (anonymous, then named); then a
        third sealed question is answered and left unread, so that the server
        holds a sealed answer when the test looks."""
        server = ServerProcess(KEY, LOG_LEVEL="debug", **dict(TELEGRAM, **env))
        self.addCleanup(server.stop)
        package = canary()
        bob_host = self.phone(package=package)
        bob, module = self.start(bob_host, url=server.url)
        alice_host = self.phone()
        alice, _ = self.start(alice_host, url=server.url)
        bob_id = bob_host.accounts[0]
        self.assertEqual(self.ask(alice, alice_host, bob_id, 2), ("success", "%d uses Unknown Client (verified)" % bob_id))
        alice.set_setting("show_name", True)
        self.assertEqual(self.ask(alice, alice_host, bob_id, 4), ("success", "%d uses Unknown Client (verified)" % bob_id))
        carol = self.sign_in(new_user(), server.url)
        _, public_key = module.make_key_pair()
        status, asked = http_json(server.url + "/v2/requests", "POST",
                                  {"target_id": bob_id, "public_key": module.b64url_encode(public_key)}, carol)
        self.assertEqual(status, 200, asked)
        bob_host.wait_for_bulletins(3)  # Bob's notice comes once the server took his answer
        # Debug level: a line per request, the most a server writes.
        eventually(lambda: sum("/v2/answers" in line for line in server.output) >= 3)
        return server, package

    def test_in_memory(self):
        server, package = self.flow({})
        self.assertNotIn(package, "".join(server.output))

    def test_in_redis(self):
        prefix = "wc-plugin-test:%s:" % uuid.uuid4().hex
        self.addCleanup(redis_delete, prefix)
        server, package = self.flow(dict(STORE="redis", REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix,
                                         STORE_KEY=os.urandom(32).hex()))
        self.assertNotIn(package, "".join(server.output))
        # ...nor in what it holds in Redis, the unread sealed answer included.
        held = redis_dump(prefix)
        self.assertGreater(held.count(prefix), 3)  # the dump reads the keys: the search can find things
        self.assertNotIn(package, held)


def redis_cli(*args):
    return subprocess.run(["redis-cli", "-u", REDIS_URL, "--no-raw"] + list(args), check=True,
                          capture_output=True, text=True, timeout=30).stdout


def redis_dump(prefix):
    out = []
    for key in redis_cli("--scan", "--pattern", prefix + "*").split():
        key = key.strip('"')
        kind = redis_cli("TYPE", key).strip()
        read = {"string": ("GET",), "hash": ("HGETALL",), "zset": ("ZRANGE", "0", "-1"), "set": ("SMEMBERS",),
                "list": ("LRANGE", "0", "-1")}.get(kind)
        out.append("%s %s %s" % (key, kind, redis_cli(read[0], key, *read[1:]) if read else ""))
    return "\n".join(out)


def redis_delete(prefix):
    for key in redis_cli("--scan", "--pattern", prefix + "*").split():
        redis_cli("DEL", key.strip('"'))


if __name__ == "__main__":
    unittest.main()
