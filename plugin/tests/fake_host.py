"""Stand-ins for what the exteraGram app gives a plugin: base_plugin,
client_utils, android_utils, ui.*, and the few Java classes the plugin uses.
Each FakeHost is one phone: its own account ids, package name, language and
bulletins, so two plugin instances (Alice and Bob) can talk through a real
server in one test process."""
import importlib.machinery
import importlib.util
import itertools
import os
import sys
import threading
import time
import types

PLUGIN_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "whatclient.plugin")
_counter = itertools.count()


class FakeHost:
    def __init__(self, user_id, package="com.exteragram.messenger", language="en", usernames=None, resolvable=None, extra_accounts=()):
        self.user_ids = [user_id, *extra_accounts]
        self.package = package
        self.language = language
        self.usernames = dict(usernames or {})     # in the app's cache
        self.resolvable = dict(resolvable or {})   # known to Telegram's servers only
        self.bulletins = []
        self.logs = []
        self.resolve_requests = []
        self._changed = threading.Condition()

    # ---- what tests read

    def bulletin(self, kind, text):
        with self._changed:
            self.bulletins.append((kind, text))
            self._changed.notify_all()

    def wait_for_bulletins(self, count, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.bulletins) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("expected %d bulletins, got %r" % (count, self.bulletins))
                self._changed.wait(remaining)
            return list(self.bulletins)

    # ---- the host modules

    def modules(self):
        host = self

        base_plugin = types.ModuleType("base_plugin")

        class HookStrategy:
            DEFAULT = "DEFAULT"
            CANCEL = "CANCEL"
            MODIFY = "MODIFY"
            MODIFY_FINAL = "MODIFY_FINAL"

        class HookResult:
            def __init__(self, strategy=HookStrategy.DEFAULT, params=None, request=None, response=None, update=None, updates=None):
                self.strategy = strategy
                self.params = params

        class BasePlugin:
            def __init__(self):
                self.settings = {}
                self.send_hook_added = False

            def get_setting(self, key, default=None):
                return self.settings.get(key, default)

            def set_setting(self, key, value, reload_settings=False):
                self.settings[key] = value

            def add_on_send_message_hook(self, priority=0):
                self.send_hook_added = True

            def log(self, message):
                host.logs.append(str(message))

        base_plugin.BasePlugin, base_plugin.HookResult, base_plugin.HookStrategy = BasePlugin, HookResult, HookStrategy

        android_utils = types.ModuleType("android_utils")
        android_utils.log = lambda message: host.logs.append(str(message))
        android_utils.run_on_ui_thread = lambda fn, delay=0: threading.Timer(delay / 1000, fn).start()

        class User:
            def __init__(self, user_id):
                self.id = user_id

        class MessagesController:
            def getUserOrChat(self, name):
                user_id = host.usernames.get(name.lower())
                return None if user_id is None else User(user_id)

        class Peer:
            def __init__(self, user_id):
                self.user_id = user_id

        class ResolvedPeer:
            def __init__(self, user_id):
                self.peer = Peer(user_id)

        def send_request(request, callback):
            host.resolve_requests.append(request.username)
            user_id = host.resolvable.get(request.username.lower())
            response, error = (ResolvedPeer(user_id), None) if user_id else (None, "USERNAME_NOT_OCCUPIED")
            threading.Thread(target=callback, args=(response, error), daemon=True).start()

        client_utils = types.ModuleType("client_utils")
        client_utils.get_messages_controller = lambda: MessagesController()
        client_utils.send_request = send_request
        client_utils.run_on_queue = lambda fn, queue_name="pluginsQueue", delay=0: threading.Timer(delay / 1000, fn).start()

        ui = types.ModuleType("ui")
        bulletin = types.ModuleType("ui.bulletin")

        class BulletinHelper:
            show_info = staticmethod(lambda message, fragment=None: host.bulletin("info", message))
            show_error = staticmethod(lambda message, fragment=None: host.bulletin("error", message))
            show_success = staticmethod(lambda message, fragment=None: host.bulletin("success", message))

        bulletin.BulletinHelper = BulletinHelper
        settings = types.ModuleType("ui.settings")

        def setting(kind):
            class Setting:
                def __init__(self, **kwargs):
                    self.kind = kind
                    self.__dict__.update(kwargs)
            Setting.__name__ = kind
            return Setting

        for kind in ("Header", "Input", "Switch", "Text", "Divider", "Selector", "EditText"):
            setattr(settings, kind, setting(kind))
        ui.bulletin, ui.settings = bulletin, settings

        class Config:
            def __init__(self, account):
                self.account = account

            def getClientUserId(self):
                return host.user_ids[self.account] if self.account < len(host.user_ids) else 0

            def isClientActivated(self):
                return self.account < len(host.user_ids)

        class UserConfig:
            MAX_ACCOUNT_COUNT = 5
            selectedAccount = 0
            getInstance = staticmethod(lambda account: Config(account))

        class Context:
            def getPackageName(self):
                return host.package

        class ApplicationLoader:
            applicationContext = Context()

        class LocaleInfo:
            shortName = host.language

        class LocaleController:
            getInstance = staticmethod(lambda: types.SimpleNamespace(getCurrentLocaleInfo=lambda: LocaleInfo()))

        org = types.ModuleType("org")
        telegram = types.ModuleType("org.telegram")
        messenger = types.ModuleType("org.telegram.messenger")
        messenger.UserConfig, messenger.ApplicationLoader, messenger.LocaleController = UserConfig, ApplicationLoader, LocaleController
        tgnet = types.ModuleType("org.telegram.tgnet")

        class TL_contacts_resolveUsername:
            username = None

        tgnet.TLRPC = types.SimpleNamespace(TL_contacts_resolveUsername=TL_contacts_resolveUsername)
        org.telegram, telegram.messenger, telegram.tgnet = telegram, messenger, tgnet

        return {
            "base_plugin": base_plugin, "android_utils": android_utils, "client_utils": client_utils,
            "ui": ui, "ui.bulletin": bulletin, "ui.settings": settings,
            "org": org, "org.telegram": telegram, "org.telegram.messenger": messenger, "org.telegram.tgnet": tgnet,
        }


def load_plugin_module(host):
    """Executes the .plugin file as a fresh module bound to `host`'s stand-ins."""
    stand_ins = host.modules()
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        name = "whatclient_plugin_%d" % next(_counter)
        loader = importlib.machinery.SourceFileLoader(name, PLUGIN_PATH)
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
        loader.exec_module(module)
        return module
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


class Params:
    """SendMessagesHelper.SendMessageParams, as far as the plugin reads it."""

    def __init__(self, message, peer=0, reply_sender=None):
        self.message = message
        self.peer = peer
        self.replyToMsg = None if reply_sender is None else types.SimpleNamespace(getSenderId=lambda: reply_sender)
