"""The WhatClient plugin under python3: two plugin instances, Alice and Bob,
each with its own stand-in host, talking through the real server."""
import ast
import http.server
import json
import os
import re
import socket
import threading
import time
import unittest

from fake_host import PLUGIN_PATH, FakeHost, Params, load_plugin_module
from server import ServerProcess

KEY = "plugin-test-key"
servers = {}


def setUpModule():
    servers["main"] = ServerProcess(KEY)
    servers["short"] = ServerProcess(KEY, REQUEST_TTL_SECONDS="1.5")


def tearDownModule():
    for server in servers.values():
        server.stop()


_next_user = [9_500_000_000]


def new_user():
    _next_user[0] += 1
    return _next_user[0]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PluginCase(unittest.TestCase):
    def setUp(self):
        self.plugins = []

    def tearDown(self):
        for plugin in self.plugins:
            plugin.on_plugin_unload()

    def start(self, host, server="main", **settings):
        module = load_plugin_module(host)
        plugin = module.WhatClientPlugin()
        plugin.settings.update({"server_url": servers[server].url, "api_key": KEY, **settings})
        plugin.on_plugin_load()
        self.plugins.append(plugin)
        return plugin, module

    def send(self, plugin, host, message, **params):
        result = plugin.on_send_message_hook(0, Params(message, **params))
        return result

    def final_bulletin(self, host, count=2):
        bulletins = host.wait_for_bulletins(count)
        return bulletins[count - 1]


class MetadataTest(unittest.TestCase):
    def test_metadata_is_plain_literals_with_a_valid_id(self):
        with open(PLUGIN_PATH, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        metadata = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name.startswith("__") and name.endswith("__"):
                    self.assertIsInstance(node.value, ast.Constant, name)
                    self.assertIsInstance(node.value.value, str, name)
                    metadata[name] = node.value.value
        for required in ("__id__", "__name__", "__description__", "__author__", "__version__", "__min_version__"):
            self.assertIn(required, metadata)
        self.assertRegex(metadata["__id__"], r"^[a-z][a-z0-9_]{1,31}$")
        self.assertRegex(metadata["__version__"], r"^\d+\.\d+\.\d+$")
        plugins = [n for n in tree.body if isinstance(n, ast.ClassDef) and any(getattr(b, "id", "") == "BasePlugin" for b in n.bases)]
        self.assertEqual(len(plugins), 1)

    def test_imports_only_stdlib_and_the_host(self):
        with open(PLUGIN_PATH, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        allowed = {"hashlib", "hmac", "http", "json", "random", "re", "socket", "threading", "time", "urllib",
                   "base_plugin", "android_utils", "client_utils", "ui", "org"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                self.assertIn(name.split(".")[0], allowed, name)


class ProtocolTest(unittest.TestCase):
    def setUp(self):
        self.module = load_plugin_module(FakeHost(1))

    def test_signs_the_protocol_vectors(self):
        sign = self.module.sign
        self.assertEqual(sign("lainapi.gay", b'{"requester_id": 123, "target_id": 456}'),
                         "71fef23b87faa592beaacff3a1af9fc904a76e5806814e57c1b5103ce0de92f5")
        self.assertEqual(sign("lainapi.gay", b"/getTasks/456"), "8e1090cfdd7e4ccabb9c87075b71d53fde6d30129da3b42720b6238eb3fcba37")
        self.assertEqual(sign("ваш_секретный_ключ", b"/getTasks/456"), "3cc5e9d5baed1bfde10e58267e3c3521d9beac0a75a9ecfa74bba55072728e3f")

    def test_parses_commands(self):
        parse = self.module.parse_command
        self.assertIsNone(parse("hello"))
        self.assertIsNone(parse(".wcx 1"))
        self.assertIsNone(parse(None))
        self.assertEqual(parse(".wc 12345"), ("id", 12345))
        self.assertEqual(parse("  .wc   777 "), ("id", 777))
        self.assertEqual(parse(".wc @durov"), ("username", "durov"))
        self.assertEqual(parse(".wc durov_bot"), ("username", "durov_bot"))
        self.assertEqual(parse(".wc"), ("here", None))
        for bad in (".wc 0", ".wc 9007199254740992", ".wc 12ab!", ".wc @a", ".wc 1 2", ".wc -5"):
            self.assertEqual(parse(bad), ("usage", None), bad)

    def test_rejects_bad_settings_in_words(self):
        Api, WcError = self.module.Api, self.module.WcError
        for url, key in (("", "k"), ("http://x", ""), ("ftp://x", "k"), ("not a url", "k"), ("http://x:99999", "k")):
            with self.assertRaises(WcError) as caught:
                Api(url, key)
            self.assertEqual(caught.exception.kind, "config")


class FlowTest(PluginCase):
    def test_alice_learns_bobs_client(self):
        bob_id, alice_id = new_user(), new_user()
        bob_host = FakeHost(bob_id, package="com.radolyn.ayugram")
        bob, _ = self.start(bob_host)
        alice_host = FakeHost(alice_id)
        alice, module = self.start(alice_host)

        result = self.send(alice, alice_host, ".wc %d" % bob_id)
        self.assertEqual(result.strategy, "CANCEL")
        self.assertEqual(alice_host.wait_for_bulletins(1)[0], ("info", "WhatClient: asking which app %d uses…" % bob_id))
        self.assertEqual(self.final_bulletin(alice_host), ("success", "%d uses AyuGram" % bob_id))
        self.assertEqual(bob_host.bulletins, [])
        self.assertTrue(alice.send_hook_added)

    def test_other_messages_are_sent_as_they_are(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        for message in ("hello", ".wcx", "wc 5", None):
            self.assertEqual(self.send(plugin, host, message).strategy, "DEFAULT")
        self.assertEqual(host.bulletins, [])

    def test_reply_private_chat_and_usernames(self):
        bob_id = new_user()
        self.start(FakeHost(bob_id, package="tw.nekomimi.nekogram"))
        alice_host = FakeHost(new_user(), usernames={"bobcached": bob_id}, resolvable={"bobremote": bob_id})
        alice, _ = self.start(alice_host)
        cases = [
            ((".wc",), {"peer": -100500, "reply_sender": bob_id}, str(bob_id)),
            ((".wc",), {"peer": bob_id}, str(bob_id)),
            ((".wc @bobcached",), {}, "@bobcached"),
            ((".wc bobremote",), {}, "@bobremote"),
        ]
        for number, (args, params, who) in enumerate(cases):
            self.assertEqual(self.send(alice, alice_host, *args, **params).strategy, "CANCEL")
            self.assertEqual(self.final_bulletin(alice_host, 2 * (number + 1)), ("success", "%s uses Nekogram" % who))
        self.assertEqual(alice_host.resolve_requests, ["bobremote"])

    def test_bad_input_is_explained_and_never_sent(self):
        host = FakeHost(new_user(), resolvable={})
        plugin, _ = self.start(host)
        self.assertEqual(self.send(plugin, host, ".wc 12ab!").strategy, "CANCEL")
        self.assertEqual(host.wait_for_bulletins(1)[0][0], "error")
        self.assertIn("Usage: .wc", host.bulletins[0][1])
        self.assertEqual(self.send(plugin, host, ".wc", peer=-1001234).strategy, "CANCEL")
        self.assertIn("Usage: .wc", host.wait_for_bulletins(2)[1][1])
        self.assertEqual(self.send(plugin, host, ".wc @nobody_here").strategy, "CANCEL")
        self.assertEqual(host.wait_for_bulletins(3)[2], ("error", "WhatClient: cannot find @nobody_here"))

    def test_answers_in_russian_when_the_app_is_russian(self):
        bob_id = new_user()
        self.start(FakeHost(bob_id, package="com.exteragram.messenger"))
        host = FakeHost(new_user(), language="ru")
        plugin, _ = self.start(host)
        self.send(plugin, host, ".wc %d" % bob_id)
        self.assertEqual(self.final_bulletin(host), ("success", "%d пользуется exteraGram" % bob_id))

    def test_no_answer_when_bob_is_offline_or_declines(self):
        declining_id = new_user()
        self.start(FakeHost(declining_id), server="short", answer_requests=False)
        host = FakeHost(new_user())
        plugin, _ = self.start(host, server="short")
        offline_id = new_user()
        for target in (offline_id, declining_id):
            self.send(plugin, host, ".wc %d" % target)
        finals = sorted(t for kind, t in host.wait_for_bulletins(4) if not t.startswith("WhatClient: asking"))
        expected = sorted("No answer from %d: offline, without WhatClient, or not answering." % t for t in (offline_id, declining_id))
        self.assertEqual(finals, expected)

    def test_wrong_key_unreachable_server_and_missing_settings(self):
        wrong = FakeHost(new_user())
        plugin, _ = self.start(wrong, api_key="not the key")
        self.send(plugin, wrong, ".wc 5")
        self.assertEqual(self.final_bulletin(wrong), ("error", "WhatClient: the server refused the secret key; check it in the plugin settings"))

        down = FakeHost(new_user())
        plugin, _ = self.start(down, server_url="http://127.0.0.1:%d" % free_port())
        self.send(plugin, down, ".wc 5")
        self.assertEqual(self.final_bulletin(down), ("error", "WhatClient: the server is unreachable; check your connection and the server URL"))

        unset = FakeHost(new_user())
        plugin, _ = self.start(unset, server_url="")
        self.send(plugin, unset, ".wc 5")
        kind, message = self.final_bulletin(unset)
        self.assertEqual(kind, "error")
        self.assertIn("set the server URL and secret key", message)

    def test_check_connection_setting(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        check = [s for s in plugin.create_settings() if s.kind == "Text"][0]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(1)[0], ("success", "WhatClient: connected, the server accepts your key"))
        plugin.settings["api_key"] = "wrong"
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(2)[1][0], "error")
        keys = [getattr(s, "key", None) for s in plugin.create_settings()]
        self.assertEqual([k for k in keys if k], ["server_url", "api_key", "answer_requests"])

    def test_serves_every_logged_in_account(self):
        first, second = new_user(), new_user()
        self.start(FakeHost(first, package="app.nicegram", extra_accounts=(second,)))
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        self.send(plugin, host, ".wc %d" % second)
        self.assertEqual(self.final_bulletin(host), ("success", "%d uses Nicegram" % second))

    def test_unload_stops_the_answer_loop_at_once(self):
        bob_id = new_user()
        bob_host = FakeHost(bob_id)
        bob, _ = self.start(bob_host)
        threads = bob.answer_threads()
        self.assertEqual(len(threads), 1)
        time.sleep(0.3)  # the loop now holds a long-poll on the server
        bob.on_plugin_unload()
        self.plugins.remove(bob)
        for thread in threads:
            thread.join(timeout=3)
            self.assertFalse(thread.is_alive())
        self.assertEqual(bob.answer_threads(), [])

    def test_switching_answers_off_stops_answering(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        self.assertEqual(len(plugin.answer_threads()), 1)
        plugin.settings["answer_requests"] = False
        switch = [s for s in plugin.create_settings() if s.kind == "Switch"][0]
        old = plugin.answer_threads()
        switch.on_change(False)
        self.assertEqual(plugin.answer_threads(), [])
        for thread in old:
            thread.join(timeout=3)
            self.assertFalse(thread.is_alive())


class LoopTest(unittest.TestCase):
    """The answer loop against servers that misbehave: it must never spin."""

    def setUp(self):
        self.module = load_plugin_module(FakeHost(1))
        self.module.POLL_INTERVAL_SECONDS = 0.2
        self.module.BACKOFF_BASE_SECONDS = 0.2

    def run_loop_for(self, api, seconds):
        stop = threading.Event()
        errors = []
        thread = threading.Thread(target=self.module.answer_loop, args=(api, 42, "a.b", stop, errors.append), daemon=True)
        thread.start()
        time.sleep(seconds)
        stop.set()
        api.abort()
        thread.join(timeout=3)
        self.assertFalse(thread.is_alive())
        return errors

    def test_backs_off_when_the_server_is_unreachable(self):
        api = self.module.Api("http://127.0.0.1:%d" % free_port(), KEY)
        errors = self.run_loop_for(api, 1.0)
        self.assertGreaterEqual(len(errors), 1)
        self.assertLessEqual(len(errors), 10)  # at least 0.1 s apart
        self.assertTrue(all(e.kind == "unreachable" for e in errors))

    def test_keeps_an_interval_against_a_server_without_long_poll(self):
        calls = []

        class V1Server(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                calls.append(self.path)
                body = json.dumps({"tasks": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), V1Server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            api = self.module.Api("http://127.0.0.1:%d" % server.server_address[1], KEY)
            errors = self.run_loop_for(api, 1.0)
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(calls), 2)
        self.assertLessEqual(len(calls), 7)  # one per 0.2 s interval; a busy loop makes thousands
        self.assertTrue(calls[0].startswith("/getTasks/42?wait="))


if __name__ == "__main__":
    unittest.main()
