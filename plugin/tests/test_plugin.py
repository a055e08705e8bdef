"""The WhatClient plugin under python3: plugin instances, each with its own
stand-in phone, talking through the real server (v1 calls)."""
import ast
import http.server
import json
import socket
import threading
import time
import unittest

from fake_host import PLUGIN_PATH, FakeHost, MessageObject, Params, load_plugin_module
from loopback import serve_on_loopback, stop_serving
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


def eventually(check, timeout=10.0, interval=0.05):
    """Waits until check() is true; fails the test if it never is."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.0f s" % timeout)
        time.sleep(interval)


class PluginCase(unittest.TestCase):
    def setUp(self):
        self.plugins = []

    def tearDown(self):
        for plugin in self.plugins:
            plugin.on_plugin_unload()

    def start(self, host, server="main", module_settings=None, prepare=None, **settings):
        """prepare(module), when given, runs before the plugin loads (and starts its threads)."""
        module = load_plugin_module(host)
        for name, value in (module_settings or {}).items():
            setattr(module, name, value)
        if prepare is not None:
            prepare(module)
        plugin = module.WhatClientPlugin()
        defaults = {} if "server_url" in settings else {"server_url": servers[server].url, "api_key": KEY}
        for key, value in dict(defaults, **settings).items():
            plugin.set_setting(key, value)
        plugin.on_plugin_load()
        self.plugins.append(plugin)
        return plugin, module

    def send(self, plugin, host, message, account=0, **params):
        return host.send_message(plugin, account, Params(message, **params))

    def final_bulletin(self, host, count=2):
        return host.wait_for_bulletins(count)[count - 1]

    def ask(self, plugin, host, target, count):
        """Types `.wc target` and returns the `count`th bulletin (the final one of this question)."""
        self.assertEqual(self.send(plugin, host, ".wc %d" % target), "cancelled")
        return self.final_bulletin(host, count)

    def alice_and_bob(self, package, **settings):
        """Bob's phone runs `package`; his plugin starts first, then Alice's, both with the
        case's own phone() and start(). Returns both plugins and both phones."""
        bob_host = self.phone(package=package)
        bob, _ = self.start(bob_host, **settings)
        alice_host = self.phone()
        alice, _ = self.start(alice_host, **settings)
        return alice, alice_host, bob, bob_host


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
        allowed = {"base64", "contextlib", "email", "hashlib", "hmac", "http", "json", "os", "random", "re", "socket", "ssl",
                   "struct", "threading", "time", "urllib", "base_plugin", "android_utils", "client_utils", "ui", "java", "org"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                self.assertIn(name.split(".")[0], allowed, name)

    def test_every_attribute_of_ours_is_prefixed(self):
        # BasePlugin keeps its own state on the plugin object (the engine reads
        # id, enabled and error_message off it): ours must never shadow it.
        host = FakeHost(new_user())
        module = load_plugin_module(host)
        base = set(vars(module.BasePlugin()))
        plugin = module.WhatClientPlugin()
        plugin.set_setting("server_url", "")
        plugin.on_plugin_load()
        try:
            ours = set(vars(plugin)) - base
            self.assertTrue(ours)
            self.assertEqual([name for name in ours if not name.startswith("_wc_")], [])
            self.assertEqual([name for name in vars(module.WhatClientPlugin)
                              if not name.startswith("_wc_") and not name.startswith("__")],
                             ["on_plugin_load", "on_plugin_unload", "create_settings", "on_send_message_hook"])
        finally:
            plugin.on_plugin_unload()


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
        Server, WcError = self.module.Server, self.module.WcError
        for url, key in (("", "k"), ("http://x", ""), ("ftp://x", "k"), ("not a url", "k"), ("http://x:99999", "k")):
            with self.assertRaises(WcError) as caught:
                Server(url, key).v1()
            self.assertEqual(caught.exception.kind, self.module.CONFIG)

    def test_a_session_closes_what_it_started_and_what_was_opened_under_it(self):
        Session = self.module.Session
        root = Session()
        with root.child() as child:
            started = threading.Event()
            child.spawn(lambda: (started.set(), child.wait(30)))
            started.wait(5)
            grandchild = child.child()
        self.assertTrue(child.stopped.is_set())
        self.assertTrue(grandchild.stopped.is_set())
        eventually(lambda: child.threads() == [], timeout=3)
        self.assertFalse(root.stopped.is_set())
        root.close()
        self.assertTrue(root.child().stopped.is_set())  # nothing new starts under a closed session


class FlowTest(PluginCase):
    def test_alice_learns_bobs_client(self):
        bob_id, alice_id = new_user(), new_user()
        bob_host = FakeHost(bob_id, package="com.radolyn.ayugram")
        self.start(bob_host)
        alice_host = FakeHost(alice_id)
        alice, _ = self.start(alice_host)

        self.assertEqual(self.send(alice, alice_host, ".wc %d" % bob_id), "cancelled")
        self.assertEqual(alice_host.wait_for_bulletins(1)[0], ("info", "WhatClient: asking which app %d uses…" % bob_id))
        self.assertEqual(self.final_bulletin(alice_host), ("success", "%d uses AyuGram" % bob_id))
        self.assertEqual(bob_host.bulletins, [])
        self.assertEqual(alice_host.sent_messages, [])

    def test_other_messages_are_sent_as_they_are(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        for message in ("hello", ".wcx", "wc 5", None):
            self.assertEqual(self.send(plugin, host, message), "sent")
        self.assertEqual(host.bulletins, [])

    def test_reply_private_chat_and_usernames(self):
        bob_id = new_user()
        self.start(FakeHost(bob_id, package="tw.nekomimi.nekogram"))
        alice_host = FakeHost(new_user(), usernames={"bobcached": bob_id}, resolvable={"bobremote": bob_id})
        alice, _ = self.start(alice_host)
        cases = [  # (typed, params, who, bulletins: "asking…" and the answer, after "looking up…" if Telegram is asked)
            ((".wc",), {"peer": -100500, "reply_sender": bob_id}, str(bob_id), 2),
            ((".wc",), {"peer": bob_id}, str(bob_id), 2),
            ((".wc @bobcached",), {}, "@bobcached", 2),
            ((".wc bobremote",), {}, "@bobremote", 3),  # not cached: Telegram is asked
        ]
        count = 0
        for args, params, who, bulletins in cases:
            self.assertEqual(self.send(alice, alice_host, *args, **params), "cancelled")
            count += bulletins
            self.assertEqual(self.final_bulletin(alice_host, count), ("success", "%s uses Nekogram" % who))
        self.assertEqual(alice_host.bulletins[6], ("info", "WhatClient: looking up @bobremote…"))
        self.assertEqual(alice_host.requests, [(0, "TL_contacts_resolveUsername", "bobremote")])

    def test_bad_input_is_explained_and_never_sent(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        self.assertEqual(self.send(plugin, host, ".wc 12ab!"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(1)[0][0], "error")
        self.assertIn("Usage: .wc", host.bulletins[0][1])
        self.assertEqual(self.send(plugin, host, ".wc", peer=-1001234), "cancelled")
        self.assertIn("Usage: .wc", host.wait_for_bulletins(2)[1][1])
        self.assertEqual(self.send(plugin, host, ".wc @nobody_here"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(4)[2:], [("info", "WhatClient: looking up @nobody_here…"),
                                                          ("error", "WhatClient: cannot find @nobody_here")])
        self.assertEqual(host.sent_messages, [])

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
        kind, message = unset.wait_for_bulletins(1)[0]
        self.assertEqual(kind, "error", message)
        self.assertEqual(message, "WhatClient: enter the server URL in the plugin settings")

    def test_check_connection_setting(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        check = [s for s in plugin.create_settings() if s.kind == "Text"][0]
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(1)[0], ("success", "WhatClient: connected, the server accepts your key"))
        host.change_setting(plugin, "api_key", "wrong")
        check.on_click(None)
        self.assertEqual(host.wait_for_bulletins(2)[1][0], "error")

    def test_serves_every_logged_in_account(self):
        first, second = new_user(), new_user()
        self.start(FakeHost(first, package="app.nicegram", extra_accounts=(second,)))
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        self.send(plugin, host, ".wc %d" % second)
        self.assertEqual(self.final_bulletin(host), ("success", "%d uses Nicegram" % second))

    def test_unload_stops_the_answer_loop_at_once(self):
        bob_host = FakeHost(new_user())
        bob, _ = self.start(bob_host)
        eventually(lambda: len(bob._wc_threads()) == 2)  # the account watcher and one account's loop
        threads = bob._wc_threads()
        time.sleep(0.3)  # the loop now holds a long-poll on the server
        bob.on_plugin_unload()
        self.plugins.remove(bob)
        for thread in threads:
            thread.join(timeout=3)
            self.assertFalse(thread.is_alive())
        self.assertEqual(bob._wc_threads(), [])

    def test_choosing_nobody_stops_answering_on_a_v1_server(self):
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        eventually(lambda: len(plugin._wc_threads()) == 2)
        old = plugin._wc_threads()
        host.change_setting(plugin, "answer_policy", 2)  # Nobody
        for thread in old:
            thread.join(timeout=3)
            self.assertFalse(thread.is_alive())
        # v1 questions come from strangers: only the account watcher is left.
        eventually(lambda: len(plugin._wc_threads()) == 1)

    def test_the_old_answer_switch_still_counts_until_a_choice_is_made(self):
        host = FakeHost(new_user())
        plugin, module = self.start(host, answer_requests=False)
        self.assertEqual(plugin._wc_policy(), module.NOBODY)
        plugin.set_setting("answer_policy", module.CONTACTS)
        self.assertEqual(plugin._wc_policy(), module.CONTACTS)


class PhoneCaseTest(PluginCase):
    """The cases a phone hits (issue #12), each against a stand-in that
    behaves as exteraGram 12.8 does (see fake_host.py for the sources)."""

    def test_a_command_is_never_posted_even_when_handling_it_fails(self):
        # The app sends the original message when the hook raises: `.wc ...`
        # would land in the chat for everyone to read.
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        secret_chat = host.add_secret_chat(0, 99, new_user())
        failures = [
            ("BulletinHelper", ".wc 12ab!", {}),
            ("BulletinHelper", ".wc", {"peer": -1001234}),
            ("MessagesController.getInstance", ".wc", {"peer": secret_chat}),
            ("UserConfig.getClientUserId", ".wc 5", {}),
            ("LocaleController", ".wc", {"peer": -5}),
        ]
        for failing, message, params in failures:
            host.failing = {failing}
            self.assertEqual(self.send(plugin, host, message, **params), "cancelled", (failing, message))
        self.assertEqual(host.sent_messages, [])

    def test_a_username_of_a_channel_or_group_is_not_asked_about(self):
        # Channel ids and user ids share one number space: channel 7 is not user 7.
        number = new_user()
        self.start(FakeHost(number, package="com.radolyn.ayugram"))
        host = FakeHost(new_user())
        host.cache_channel(0, number, "cachednews")
        host.cloud.add_channel(number + 1, "Remote", "remotenews")
        plugin, _ = self.start(host)
        self.assertEqual(self.send(plugin, host, ".wc @cachednews"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(1), [("error", "WhatClient: @cachednews is a channel or a group, not a user")])
        self.assertEqual(self.send(plugin, host, ".wc @remotenews"), "cancelled")
        self.assertEqual(host.wait_for_bulletins(3)[1:], [("info", "WhatClient: looking up @remotenews…"),
                                                          ("error", "WhatClient: @remotenews is a channel or a group, not a user")])

    def test_in_a_forum_topic_the_topic_start_is_no_reply(self):
        creator, author = new_user(), new_user()
        self.start(FakeHost(creator))
        self.start(FakeHost(author, package="tw.nekomimi.nekogram"))
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        group = -1001234567890
        top = MessageObject(creator, group, message_id=77)
        # No reply chosen: the app still fills replyToMsg with the topic's first message.
        self.assertEqual(self.send(plugin, host, ".wc", peer=group, reply_to=MessageObject(creator, group, message_id=77), top=top), "cancelled")
        self.assertIn("Usage: .wc", host.wait_for_bulletins(1)[0][1])
        # A real reply inside the topic.
        self.assertEqual(self.send(plugin, host, ".wc", peer=group, reply_to=MessageObject(author, group), top=top), "cancelled")
        self.assertEqual(self.final_bulletin(host, 3), ("success", "%d uses Nekogram" % author))

    def test_in_a_secret_chat_the_question_is_about_the_other_person(self):
        bob_id = new_user()
        self.start(FakeHost(bob_id, package="app.nicegram"))
        host = FakeHost(new_user())
        dialog_id = host.add_secret_chat(0, 4242, bob_id)
        plugin, _ = self.start(host)
        self.assertEqual(self.send(plugin, host, ".wc", peer=dialog_id), "cancelled")
        self.assertEqual(self.final_bulletin(host), ("success", "%d uses Nicegram" % bob_id))

    def test_usernames_are_resolved_with_the_account_that_sends(self):
        bob_id, carol_id = new_user(), new_user()
        self.start(FakeHost(bob_id, package="app.nicegram"))
        self.start(FakeHost(carol_id, package="app.nicegram"))
        host = FakeHost(new_user(), extra_accounts=(new_user(),))
        host.cache_user(0, bob_id, username="bobfriend")  # in account 0's cache only
        host.cloud.add_user(carol_id, username="carolremote")  # known to Telegram, cached nowhere
        host.select(1)  # the UI shows account 1; the messages go out from account 0
        plugin, _ = self.start(host)
        self.assertEqual(self.send(plugin, host, ".wc @bobfriend", account=0), "cancelled")
        self.assertEqual(self.final_bulletin(host), ("success", "@bobfriend uses Nicegram"))
        self.assertEqual(host.requests, [])
        self.assertEqual(self.send(plugin, host, ".wc @carolremote", account=0), "cancelled")
        self.assertEqual(self.final_bulletin(host, 5), ("success", "@carolremote uses Nicegram"))
        self.assertEqual(host.requests, [(0, "TL_contacts_resolveUsername", "carolremote")])

    def test_accounts_that_log_in_later_are_served_and_logged_out_ones_dropped(self):
        bob_host = FakeHost(new_user(), package="app.nicegram")
        bob, _ = self.start(bob_host, module_settings={"ACCOUNT_SCAN_SECONDS": 0.2})
        later = new_user()
        slot = bob_host.log_in(later)  # after the plugin started
        host = FakeHost(new_user())
        plugin, _ = self.start(host)
        self.send(plugin, host, ".wc %d" % later)
        self.assertEqual(self.final_bulletin(host), ("success", "%d uses Nicegram" % later))
        self.assertEqual(len(bob._wc_threads()), 3)  # the account watcher and two accounts' loops
        bob_host.log_out(slot)
        eventually(lambda: len(bob._wc_threads()) == 2)


class LoopTest(unittest.TestCase):
    """The answer loop against servers that misbehave: it must never spin."""

    def setUp(self):
        self.module = load_plugin_module(FakeHost(1))
        self.module.POLL_INTERVAL_SECONDS = 0.2
        self.module.BACKOFF_BASE_SECONDS = 0.2

    def run_loop_for(self, url, seconds):
        v1 = self.module.Server(url, KEY).v1()
        session = self.module.Session()
        errors = []
        thread = threading.Thread(target=self.module.answer_loop, args=(v1, session, 42, "a.b", errors.append), daemon=True)
        thread.start()
        time.sleep(seconds)
        session.close()
        thread.join(timeout=3)
        self.assertFalse(thread.is_alive())
        return errors

    def test_backs_off_when_the_server_is_unreachable(self):
        errors = self.run_loop_for("http://127.0.0.1:%d" % free_port(), 1.0)
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

        server, url = serve_on_loopback(V1Server)
        try:
            errors = self.run_loop_for(url, 1.0)
        finally:
            stop_serving(server)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(calls), 2)
        self.assertLessEqual(len(calls), 7)  # one per 0.2 s interval; a busy loop makes thousands
        self.assertTrue(calls[0].startswith("/getTasks/42?wait="))


class AnswerSizeTest(unittest.TestCase):
    """Answers no server under the protocol sends: too long, endless, or
    nested too deep. Each counts as an answer that is not the protocol, and
    none is read far past the bound."""

    def setUp(self):
        self.module = load_plugin_module(FakeHost(1))
        self.answers = {}  # path -> handler(request handler) that writes the whole answer
        answers = self.answers

        class Server(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                answers[self.path.split("?")[0]](self)

            def log_message(self, *args):
                pass

        server, url = serve_on_loopback(Server)
        self.addCleanup(stop_serving, server)
        self.v2 = self.module.Server(url, "").v2

    def tasks(self, path):
        self.answers["/v2/tasks"] = self.answers[path]
        with self.module.Session() as session:
            return self.v2.tasks(session, "token")

    def assert_not_the_protocol(self, path):
        with self.assertRaises(self.module.WcError) as caught:
            self.tasks(path)
        self.assertEqual(caught.exception.kind, "server")

    @staticmethod
    def fixed(body):
        def answer(handler):
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            try:
                handler.wfile.write(body)
            except OSError:
                pass  # the plugin hung up
        return answer

    def test_a_bounded_answer_is_read_and_a_longer_one_refused(self):
        task = {"request_id": "r", "requester_id": None, "verified": True, "expires_at": 1, "public_key": "k" * 43}
        legit = json.dumps({"tasks": [dict(task, request_id="r%d" % i) for i in range(32)]}).encode()
        self.answers["legit"] = self.fixed(legit)
        self.assertEqual(len(self.tasks("legit")), 32)
        # Valid JSON with a valid task list, but 4 MB: a server that sends it is broken or hostile.
        padded = json.dumps({"tasks": [task], "padding": "x" * (4 << 20)}).encode()
        self.answers["padded"] = self.fixed(padded)
        self.assert_not_the_protocol("padded")

    def test_an_endless_answer_is_not_read_to_its_end(self):
        def endless(handler):
            # HTTP/1.0 without a length: the answer ends when the server hangs up, here never
            # (for 10 s at most, and throttled, so that a plugin that reads on stays testable).
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            deadline = time.monotonic() + 10
            try:
                handler.wfile.write(b'{"tasks": [], "padding": "')
                while time.monotonic() < deadline:
                    handler.wfile.write(b"x" * 65536)
                    time.sleep(0.01)
            except OSError:
                pass  # the plugin hung up, as it should
        self.answers["endless"] = endless
        started = time.monotonic()
        self.assert_not_the_protocol("endless")
        self.assertLess(time.monotonic() - started, 3)

    def test_json_nested_deeper_than_the_parser_goes_is_not_the_protocol(self):
        deep = b'{"tasks": ' + b"[" * 100000 + b"]" * 100000 + b"}"
        self.assertLess(len(deep), self.module.MAX_ANSWER_BYTES)
        self.answers["deep"] = self.fixed(deep)
        self.assert_not_the_protocol("deep")


if __name__ == "__main__":
    unittest.main()
