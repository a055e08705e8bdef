"""Stand-ins for what the exteraGram app gives a plugin: base_plugin,
client_utils, android_utils, ui.*, java.lang and the Java classes the plugin
reads. Each FakeHost is one phone: its accounts, package name, language,
per-account caches and bulletins, so several plugin instances can talk
through a real server in one test process. A TelegramCloud stands for
Telegram's own servers and may be shared by several phones.

The stand-ins copy the app's behaviour, not what would be convenient. Where
each behaviour comes from (exteraGram 12.8, decompiled, in the public
repository abova8382993/extera-decomp, paths under sources/):
- the send hook: com/exteragram/messenger/plugins/PythonPluginsEngine.java,
  executeHook and executeSendMessageHook. A PyException raised by the hook is
  only logged (errorLogger) and the hook result becomes "params unchanged, not
  cancelled", so SendMessagesHelper sends the original message. A returned
  result cancels when str(strategy) ends with "CANCEL".
- accounts: org/telegram/messenger/UserConfig.java. MAX_ACCOUNT_COUNT = 16,
  getInstance(i) indexes an array of 16, isClientActivated() is "has a
  current user", getClientUserId() is 0 without one; selectedAccount is the
  account shown in the UI, not necessarily the one a message is sent from.
- dialog ids: org/telegram/messenger/DialogObject.java. A secret chat's
  dialog id is (chat id & 0xffffffff) | 1 << 62: positive, and not a user id;
  isUserDialog() is "positive, not encrypted, not a folder".
- users and chats: org/telegram/messenger/MessagesController.java.
  getUserOrChat(String) looks the lower-cased name up in objectsByUsernames,
  which holds users and chats alike; TLRPC.Chat ids are positive (the dialog
  id is the negated id, DialogObject.getDialogId). getUser(Long),
  getEncryptedChat(Integer), putUsers/putChats, getInputUser/getInputPeer
  (the access hash comes from the cached user).
- secret chats: org/telegram/tgnet/TLRPC.java, EncryptedChat.user_id is the
  other person.
- contacts: org/telegram/messenger/ContactsController.java, contactsDict is a
  ConcurrentHashMap<Long, TL_contact> per account.
- requests: org/telegram/tgnet/ConnectionsManager.getInstance(account)
  .sendRequest(request, RequestDelegate[, int flags]); the answer arrives
  later, on another thread. sendRequest returns the request's token (per
  account, counting up from 1); cancelRequest(token, notifyServer) drops
  the request, and its delegate is then never called (onRequestClear
  removes the callbacks, so onRequestComplete finds none). The two-argument
  overload is the three-argument one with flags 0. RequestFlag* constants
  are the class's public static ints (12.8 has RequestFlagDoNotWaitFloodWait
  = 1024; sendRequest hands flags on to native_sendRequest unchanged). An
  error answer is a TL_error with Telegram's code and text, e.g. 420
  "FLOOD_WAIT_3". A 420 reaches the delegate only when the request has
  FailOnServerErrors (2) or DoNotWaitFloodWait (1024): else the native layer
  waits it out and sends the request again, calling nothing meanwhile
  (TMessagesProj/jni/tgnet/ConnectionsManager.cpp, processServerResponse,
  in exteraGram's tree as the public index holds it, e.g.
  cnwxu3ea/exteragram-dev; 1024 is RequestFlagIgnoreFloodWait in tgnet's
  Defines.h; DrKLO/Telegram's older copies gate on 2 alone). A request that
  a plugin's pre-request hook cancels (PluginsHooks.executePreRequestHook
  returns null, in ConnectionsManager.sendRequestInternal) is never sent,
  and its delegate is called with (null, null). The plugin SDK's
  client_utils (decompiled copy found in
  the public code index) sends with the *selected* account's
  ConnectionsManager and wraps the callback in RequestCallback, a
  dynamic_proxy(RequestDelegate) that logs what the callback raises.
- Mini App sign-in: org/telegram/ui/bots/BotWebViewSheet.java builds
  TL_messages_requestWebView with peer and bot from MessagesController,
  platform "android", url with flags |= 2, and reads TL_webViewResultUrl.url;
  it sends requestWebView with the two-argument sendRequest (flags 0) and
  requestMainWebView with flags 66 (FailOnServerErrors | InvokeAfter);
  org/telegram/messenger/UserNameResolver.java sends resolveUsername with
  flags 0 and cancels with cancelRequest(token, true) (the plugin adds
  DoNotWaitFloodWait to each, and drops InvokeAfter);
  the init data in its fragment is signed as core.telegram.org/bots/webapps
  says (HMAC-SHA256 keyed with HMAC("WebAppData", bot token)).
- forum topics: with no reply chosen, the message's replyToMsg is the topic's
  first message, the same one as replyToTopMsg (SendMessageParams in
  org/telegram/messenger/SendMessagesHelper.java carries both; forks that
  rewrite replies set replyToMsg = replyToTopMsg for "no reply" the same way).
Published plugins call the same things the same way, e.g.
AlexeiCrystal/extera-plugins plugins/participants_channels_4.4.plugin
(MessagesController.getInstance(account), getUser(java.lang.Long(id)),
send_request(request, callback(response, error)), error.text).
"""
import hashlib
import hmac
import importlib.machinery
import importlib.util
import itertools
import json
import os
import random
import sys
import threading
import time
import types
import urllib.parse

PLUGIN_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "whatclient.plugin")
_counter = itertools.count()

MAX_ACCOUNT_COUNT = 16
ENCRYPTED_BIT = 1 << 62
FOLDER_BIT = 1 << 61


class JavaException(Exception):
    """What a Java exception looks like to Python code under Chaquopy."""


# ---------------------------------------------------------------- TLRPC

class TLObject:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class ArrayList(list):
    """java.util.ArrayList as Chaquopy shows it: size()/get(i), and iterable."""

    def size(self):
        return len(self)

    def get(self, index):
        return self[index]


class User(TLObject):
    id = 0
    access_hash = 0
    first_name = ""
    last_name = ""
    username = None
    bot = False
    contact = False


class TL_user(User):
    pass


class Chat(TLObject):
    id = 0
    title = ""
    username = None


class TL_channel(Chat):
    pass


class TL_chat(Chat):
    pass


class Peer(TLObject):
    user_id = 0
    chat_id = 0
    channel_id = 0


class TL_peerUser(Peer):
    pass


class TL_peerChannel(Peer):
    pass


class EncryptedChat(TLObject):
    id = 0
    user_id = 0


class TL_encryptedChat(EncryptedChat):
    pass


class TL_inputPeerUser(TLObject):
    user_id = 0
    access_hash = 0


class TL_inputUser(TLObject):
    user_id = 0
    access_hash = 0


class TL_error(TLObject):
    code = 400
    text = ""


class TL_contacts_resolveUsername(TLObject):
    username = None


class TL_contacts_resolvedPeer(TLObject):
    pass


class TL_messages_requestWebView(TLObject):
    flags = 0
    peer = None
    bot = None
    url = None
    platform = None
    start_param = None


class TL_messages_requestMainWebView(TLObject):
    flags = 0
    peer = None
    bot = None
    platform = None
    start_param = None


class TL_webViewResultUrl(TLObject):
    flags = 0
    query_id = 0
    url = None


TLRPC = types.SimpleNamespace(**{cls.__name__: cls for cls in (
    User, TL_user, Chat, TL_channel, TL_chat, Peer, TL_peerUser, TL_peerChannel, EncryptedChat,
    TL_encryptedChat, TL_inputPeerUser, TL_inputUser, TL_error, TL_contacts_resolveUsername,
    TL_contacts_resolvedPeer, TL_messages_requestWebView, TL_messages_requestMainWebView,
    TL_webViewResultUrl)})


class JLong(int):
    """java.lang.Long; a Python int passes for one too."""


class JInteger(int):
    """java.lang.Integer."""


def make_encrypted_dialog_id(chat_id):
    return (chat_id & 0xFFFFFFFF) | ENCRYPTED_BIT


# ---------------------------------------------------------------- Telegram's servers

class TelegramCloud:
    """What Telegram's servers know: users, channels, bots and their Mini Apps."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}
        self.channels = {}
        self.bots = {}          # bot id -> {"token", "webapp_url", "main_app_url"}
        self.stale_init_data = False

    def add_user(self, user_id, first_name="", last_name="", username=None, bot=False):
        with self.lock:
            self.users[user_id] = dict(id=user_id, first_name=first_name, last_name=last_name,
                                       username=username, bot=bot, access_hash=random.getrandbits(62))
        return user_id

    def add_channel(self, channel_id, title, username=None):
        with self.lock:
            self.channels[channel_id] = dict(id=channel_id, title=title, username=username)
        return channel_id

    def add_bot(self, token, username, webapp_url=None, main_app_url=None):
        bot_id = int(token.split(":", 1)[0])
        self.add_user(bot_id, first_name="WhatClient", username=username, bot=True)
        with self.lock:
            self.bots[bot_id] = dict(token=token, webapp_url=webapp_url, main_app_url=main_app_url)
        return bot_id

    def user_object(self, user_id):
        with self.lock:
            record = self.users.get(user_id)
        return None if record is None else TL_user(**record)

    def find(self, username):
        name = username.lower()
        with self.lock:
            for record in self.users.values():
                if (record["username"] or "").lower() == name:
                    return TL_user(**record)
            for record in self.channels.values():
                if (record["username"] or "").lower() == name:
                    return TL_channel(**record)
        return None

    def init_data(self, bot_id, user_id):
        """Init data as Telegram signs it for the bot's owner (the `hash` check)."""
        with self.lock:
            token = self.bots[bot_id]["token"]
            user = self.users.get(user_id, dict(id=user_id, first_name=""))
        auth_date = int(time.time()) - (3600 if self.stale_init_data else 0)
        fields = {
            "query_id": "AAE%x" % random.getrandbits(64),
            "user": json.dumps({"id": user_id, "first_name": user.get("first_name") or "", "language_code": "en",
                                "allows_write_to_pm": True}, separators=(",", ":")),
            "auth_date": str(auth_date),
        }
        check = "\n".join("%s=%s" % (key, fields[key]) for key in sorted(fields))
        secret = hmac.new(b"WebAppData", token.encode("utf-8"), hashlib.sha256).digest()
        fields["hash"] = hmac.new(secret, check.encode("utf-8"), hashlib.sha256).hexdigest()
        return urllib.parse.urlencode(fields, quote_via=urllib.parse.quote)

    def web_view_url(self, base_url, bot_id, user_id):
        theme = json.dumps({"bg_color": "#ffffff"})
        return "%s#tgWebAppData=%s&tgWebAppVersion=9.1&tgWebAppPlatform=android&tgWebAppThemeParams=%s" % (
            base_url, urllib.parse.quote(self.init_data(bot_id, user_id), safe=""), urllib.parse.quote(theme, safe=""))


# ---------------------------------------------------------------- one phone

class AccountState:
    """MessagesController's and ContactsController's caches of one account."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}
        self.chats = {}
        self.by_username = {}
        self.encrypted = {}
        self.contacts = set()


class FakeHost:
    def __init__(self, user_id, package="com.exteragram.messenger", language="en", usernames=None,
                 resolvable=None, extra_accounts=(), cloud=None, contacts=()):
        self.cloud = cloud if cloud is not None else TelegramCloud()
        self.accounts = [None] * MAX_ACCOUNT_COUNT
        self.states = [AccountState() for _ in range(MAX_ACCOUNT_COUNT)]
        for slot, uid in enumerate([user_id, *extra_accounts]):
            self.log_in(uid, slot)
        self.selected_account = 0
        self.package = package
        self.language = language
        self.bulletins = []
        self.logs = []
        self.requests = []       # (account, request class name, detail) as sent to Telegram
        self.sent_messages = []  # what the app sent after the send hooks ran
        self.failing = set()     # names of stand-ins that raise, to model a failing host call
        self.request_flags = []  # (account, request class name, flags) as sendRequest got them
        self.cancelled = []      # (account, token, notify server) as cancelRequest got them
        self.held = set()        # request class names Telegram does not answer (yet): no network, say
        self.pending = {}        # (account, token) -> (request class name, delegate) of held requests
        self.errors = []         # [request class name, account or None, TL_error]: the next such request gets it
        self.hook_cancelled = set()  # request class names another plugin's pre-request hook cancels
        self._tokens = [itertools.count(1) for _ in range(MAX_ACCOUNT_COUNT)]
        self._changed = threading.Condition()
        self._modules = None
        for name, uid in (usernames or {}).items():
            self.cache_user(0, uid, username=name)
        for name, uid in (resolvable or {}).items():
            self.cloud.add_user(uid, username=name)
        for uid in contacts:
            self.add_contact(0, uid)

    # ---- what tests arrange

    def log_in(self, user_id, slot=None):
        if slot is None:
            slot = self.accounts.index(None)
        if user_id not in self.cloud.users:
            self.cloud.add_user(user_id)
        self.accounts[slot] = user_id
        return slot

    def log_out(self, slot):
        self.accounts[slot] = None

    def select(self, account):
        self.selected_account = account
        if self._modules is not None:
            self._modules["org.telegram.messenger"].UserConfig.selectedAccount = account

    def cache_user(self, account, user_id, username=None, first_name="", contact=False):
        record = self.cloud.users.get(user_id)
        if record is None:
            self.cloud.add_user(user_id, first_name=first_name, username=username)
            record = self.cloud.users[user_id]
        user = TL_user(**dict(record, username=username or record["username"], contact=contact))
        self._put(account, user)
        return user

    def cache_channel(self, account, channel_id, username):
        self.cloud.add_channel(channel_id, "Channel %d" % channel_id, username)
        self._put(account, TL_channel(id=channel_id, title="Channel %d" % channel_id, username=username))

    def add_secret_chat(self, account, chat_id, user_id):
        with self.states[account].lock:
            self.states[account].encrypted[chat_id] = TL_encryptedChat(id=chat_id, user_id=user_id)
        return make_encrypted_dialog_id(chat_id)

    def add_contact(self, account, user_id):
        with self.states[account].lock:
            self.states[account].contacts.add(user_id)

    def fail(self, name):
        self.failing.add(name)

    def answer_error(self, name, code, text, account=None):
        """Telegram answers the next `name` request (from `account`, or any) with TL_error(code, text)."""
        with self._changed:
            self.errors.append((name, account, TL_error(code=code, text=text)))

    def _next_error(self, account, name):
        with self._changed:
            for i, (wanted, only, error) in enumerate(self.errors):
                if wanted == name and only in (None, account):
                    del self.errors[i]
                    return error
        return None

    def _dispatch(self, account, token, request, delegate, flags):
        """Telegram's answer to one request, as tgnet hands it on: to the
        delegate, on another thread; or held (a name in `held`, or a flood
        wait tgnet keeps to itself) until it is answered or cancelled."""
        name = type(request).__name__
        if name in self.hook_cancelled:  # not sent; the delegate hears (null, null)
            threading.Thread(target=delegate.run, args=(None, None), daemon=True).start()
            return
        response, error = self._serve(account, request)
        wait = self._kept_flood_wait(error, flags)
        if name in self.held or wait is not None:
            with self._changed:
                self.pending[(account, token)] = (name, delegate)
                self._changed.notify_all()
            if wait is not None and name not in self.held:
                timer = threading.Timer(wait, self._send_again, args=(account, token, request, delegate, flags))
                timer.daemon = True
                timer.start()
        else:
            threading.Thread(target=delegate.run, args=(response, error), daemon=True).start()

    def _send_again(self, account, token, request, delegate, flags):
        """tgnet sends a request again once its flood wait is over, unless it was cancelled meanwhile."""
        with self._changed:
            if self.pending.pop((account, token), None) is None:
                return
            self._changed.notify_all()
        self._dispatch(account, token, request, delegate, flags)

    @staticmethod
    def _kept_flood_wait(error, flags):
        """The seconds tgnet waits before sending again when it keeps a 420
        from the delegate, else None. Its processServerResponse handles an
        RpcError 420 itself unless the request has FailOnServerErrors (2) or
        DoNotWaitFloodWait (1024, tgnet's RequestFlagIgnoreFloodWait):
        FLOOD_WAIT_X waits X s (2 when X is not above 0), any other 420 2 s,
        except SLOWMODE_WAIT_X and STORY_SEND_FLOOD, which reach the delegate."""
        if error is None or error.code != 420 or flags & (2 | 1024):
            return None
        text = error.text or ""
        if text.startswith("SLOWMODE_WAIT_") or "STORY_SEND_FLOOD" in text:
            return None
        if text.startswith("FLOOD_WAIT_"):
            digits = text[len("FLOOD_WAIT_"):]
            seconds = int(digits) if digits.isdigit() else 0
            return seconds if seconds > 0 else 2
        return 2

    def _check(self, name):
        if name in self.failing:
            raise JavaException("java.lang.RuntimeException in %s" % name)

    def _put(self, account, obj):
        state = self.states[account]
        with state.lock:
            (state.users if isinstance(obj, User) else state.chats)[obj.id] = obj
            if obj.username:
                state.by_username[obj.username.lower()] = obj

    # ---- what tests read

    def bulletin(self, kind, text):
        self._check("BulletinHelper")
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

    # ---- the plugin engine

    def change_setting(self, plugin, key, value):
        """What the settings screen does when the user changes one
        (PluginsController.setPluginSettingAndTriggerOnChange): store, then on_change."""
        plugin.set_setting(key, value)
        for item in plugin.create_settings():
            if getattr(item, "key", None) == key and getattr(item, "on_change", None) is not None:
                item.on_change(value)

    def send_message(self, plugin, account, params):
        """What the app does when the user sends `params` from `account`: runs
        the send hook as PythonPluginsEngine.executeHook does. Returns "sent"
        or "cancelled"."""
        if plugin.send_hook_added and plugin.enabled and plugin.error_message is None:
            try:
                result = plugin.on_send_message_hook(account, params)
            except Exception as err:  # errorLogger: logged, then the message goes on
                self.logs.append("Failed to execute on_send_message_hook for %s: %r" % (plugin.id, err))
                result = None
            if result is not None and str(getattr(result, "strategy", "DEFAULT")).endswith("CANCEL"):
                return "cancelled"
        self.sent_messages.append(params)
        return "sent"

    # ---- the host modules

    def modules(self):
        if self._modules is None:
            self._modules = self._build_modules()
        return self._modules

    def _build_modules(self):
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
            # The engine reads id, enabled and error_message off the instance
            # (PythonPluginsEngine); the rest is this stand-in's own state.
            def __init__(self):
                self.id = "whatclient"
                self.name = "WhatClient"
                self.enabled = True
                self.error_message = None
                self.send_hook_added = False
                self._settings = {}

            def get_setting(self, key, default=None):
                return self._settings.get(key, default)

            def set_setting(self, key, value, reload_settings=False):
                self._settings[key] = value

            def add_on_send_message_hook(self, priority=0):
                self.send_hook_added = True

            def log(self, message):
                host.logs.append(str(message))

        base_plugin.BasePlugin, base_plugin.HookResult, base_plugin.HookStrategy = BasePlugin, HookResult, HookStrategy

        android_utils = types.ModuleType("android_utils")
        android_utils.log = lambda message: host.logs.append(str(message))
        android_utils.run_on_ui_thread = lambda fn, delay=0: threading.Timer(delay / 1000, fn).start()

        class UserConfigInstance:
            def __init__(self, account):
                self.account = account

            def isClientActivated(self):
                return host.accounts[self.account] is not None

            def getClientUserId(self):
                host._check("UserConfig.getClientUserId")
                return host.accounts[self.account] or 0

        class UserConfig:
            MAX_ACCOUNT_COUNT = MAX_ACCOUNT_COUNT
            selectedAccount = host.selected_account

            @staticmethod
            def getInstance(account):
                if not 0 <= account < MAX_ACCOUNT_COUNT:
                    raise JavaException("java.lang.ArrayIndexOutOfBoundsException: %d" % account)
                return UserConfigInstance(account)

        class DialogObject:
            @staticmethod
            def isEncryptedDialog(dialog_id):
                return (dialog_id & ENCRYPTED_BIT) != 0 and dialog_id >= 0

            @staticmethod
            def isFolderDialogId(dialog_id):
                return (dialog_id & FOLDER_BIT) != 0 and dialog_id >= 0

            @staticmethod
            def getEncryptedChatId(dialog_id):
                low = dialog_id & 0xFFFFFFFF
                return low - (1 << 32) if low >= 1 << 31 else low

            @staticmethod
            def makeEncryptedDialogId(chat_id):
                return make_encrypted_dialog_id(chat_id)

            @staticmethod
            def isUserDialog(dialog_id):
                return not DialogObject.isEncryptedDialog(dialog_id) and not DialogObject.isFolderDialogId(dialog_id) and dialog_id > 0

        class MessagesController:
            _instances = {}

            def __init__(self, account):
                self.account = account
                self.state = host.states[account]

            @staticmethod
            def getInstance(account):
                host._check("MessagesController.getInstance")
                if not 0 <= account < MAX_ACCOUNT_COUNT:
                    raise JavaException("java.lang.ArrayIndexOutOfBoundsException: %d" % account)
                return MessagesController._instances.setdefault(account, MessagesController(account))

            def getUserOrChat(self, name):
                if not name:
                    return None
                with self.state.lock:
                    return self.state.by_username.get(name.lower())

            def getUser(self, user_id):
                with self.state.lock:
                    return self.state.users.get(int(user_id))

            def getChat(self, chat_id):
                with self.state.lock:
                    return self.state.chats.get(int(chat_id))

            def getEncryptedChat(self, chat_id):
                with self.state.lock:
                    return self.state.encrypted.get(int(chat_id))

            def putUsers(self, users, from_cache):
                for user in users or ():
                    host._put(self.account, user)

            def putChats(self, chats, from_cache):
                for chat in chats or ():
                    host._put(self.account, chat)

            def getInputUser(self, user):
                user = user if isinstance(user, User) else self.getUser(user)
                if user is None:
                    return TLObject(kind="inputUserEmpty")
                return TL_inputUser(user_id=user.id, access_hash=user.access_hash)

            def getInputPeer(self, dialog_id):
                user = self.getUser(dialog_id)
                return TL_inputPeerUser(user_id=int(dialog_id), access_hash=user.access_hash if user is not None else 0)

        class ContactsMap:
            def __init__(self, account):
                self.state = host.states[account]

            def containsKey(self, user_id):
                with self.state.lock:
                    return int(user_id) in self.state.contacts

            def get(self, user_id):
                return TLObject(user_id=int(user_id)) if self.containsKey(user_id) else None

        class ContactsController:
            def __init__(self, account):
                self.contactsDict = ContactsMap(account)

            @staticmethod
            def getInstance(account):
                host._check("ContactsController")
                return ContactsController(account)

        class ConnectionsManager:
            RequestFlagEnableUnauthorized = 1
            RequestFlagFailOnServerErrors = 2
            RequestFlagCanCompress = 4
            RequestFlagWithoutLogin = 8
            RequestFlagTryDifferentDc = 16
            RequestFlagForceDownload = 32
            RequestFlagInvokeAfter = 64
            RequestFlagNeedQuickAck = 128
            RequestFlagDoNotWaitFloodWait = 1024
            RequestFlagListenAfterCancel = 2048
            RequestFlagFailOnServerErrorsExceptFloodWait = 65536

            def __init__(self, account):
                self.account = account

            @staticmethod
            def getInstance(account):
                if not 0 <= account < MAX_ACCOUNT_COUNT:
                    raise JavaException("java.lang.ArrayIndexOutOfBoundsException: %d" % account)
                return ConnectionsManager(account)

            def sendRequest(self, request, delegate, *rest):
                # Overloads: (TLObject, RequestDelegate) and (TLObject, RequestDelegate, int flags);
                # the longer ones take other delegates the plugin has no use for.
                if not hasattr(delegate, "run"):  # Java wants a RequestDelegate, not a Python function
                    raise TypeError("sendRequest: no RequestDelegate")
                if len(rest) > 1 or (rest and (not isinstance(rest[0], int) or isinstance(rest[0], bool))):
                    raise TypeError("sendRequest: no overload for %r" % (rest,))
                flags = rest[0] if rest else 0
                name = type(request).__name__
                token = next(host._tokens[self.account])
                host.request_flags.append((self.account, name, flags))
                host._dispatch(self.account, token, request, delegate, flags)
                return token

            def cancelRequest(self, token, notify_server, *rest):
                if isinstance(token, bool) or not isinstance(token, int) or not isinstance(notify_server, bool) or len(rest) > 1:
                    raise TypeError("cancelRequest(int, boolean[, Runnable])")
                with host._changed:
                    host.cancelled.append((self.account, token, notify_server))
                    host.pending.pop((self.account, token), None)
                    host._changed.notify_all()

        client_utils = types.ModuleType("client_utils")

        class RequestCallback:
            """dynamic_proxy(RequestDelegate) in the SDK: calls fn, logs what it raises."""

            def __init__(self, fn):
                self._fn = fn

            def run(self, response, error):
                try:
                    self._fn(response, error)
                except Exception as err:
                    host.logs.append("Error in RequestDelegate: %r" % err)

        client_utils.RequestCallback = RequestCallback
        client_utils.send_request = lambda request, fn: ConnectionsManager.getInstance(UserConfig.selectedAccount).sendRequest(request, RequestCallback(fn))
        client_utils.get_messages_controller = lambda: MessagesController.getInstance(UserConfig.selectedAccount)
        client_utils.get_user_config = lambda: UserConfig.getInstance(UserConfig.selectedAccount)
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

        class Context:
            def getPackageName(self):
                return host.package

        class ApplicationLoader:
            applicationContext = Context()

        class LocaleInfo:
            shortName = host.language

        class LocaleController:
            @staticmethod
            def getInstance():
                host._check("LocaleController")
                return types.SimpleNamespace(getCurrentLocaleInfo=lambda: LocaleInfo())

        java = types.ModuleType("java")
        java_lang = types.ModuleType("java.lang")
        java_lang.Long, java_lang.Integer = JLong, JInteger
        java.lang = java_lang

        org = types.ModuleType("org")
        telegram = types.ModuleType("org.telegram")
        messenger = types.ModuleType("org.telegram.messenger")
        for cls in (UserConfig, ApplicationLoader, LocaleController, DialogObject, MessagesController, ContactsController):
            setattr(messenger, cls.__name__, cls)
        tgnet = types.ModuleType("org.telegram.tgnet")
        tgnet.TLRPC, tgnet.ConnectionsManager = TLRPC, ConnectionsManager
        org.telegram, telegram.messenger, telegram.tgnet = telegram, messenger, tgnet

        return {
            "base_plugin": base_plugin, "android_utils": android_utils, "client_utils": client_utils,
            "ui": ui, "ui.bulletin": bulletin, "ui.settings": settings, "java": java, "java.lang": java_lang,
            "org": org, "org.telegram": telegram, "org.telegram.messenger": messenger, "org.telegram.tgnet": tgnet,
        }

    # ---- Telegram's answers, as seen from one account of this phone

    def _serve(self, account, request):
        name = type(request).__name__
        me = self.accounts[account]
        error = self._next_error(account, name)
        if error is not None:
            detail = request.username if isinstance(request, TL_contacts_resolveUsername) else getattr(request, "url", None)
            self.requests.append((account, name, detail))
            return None, error
        if isinstance(request, TL_contacts_resolveUsername):
            self.requests.append((account, name, request.username))
            found = self.cloud.find(request.username or "")
            if found is None:
                return None, TL_error(code=400, text="USERNAME_NOT_OCCUPIED")
            if isinstance(found, User):
                return TL_contacts_resolvedPeer(peer=TL_peerUser(user_id=found.id), users=ArrayList([found]), chats=ArrayList()), None
            return TL_contacts_resolvedPeer(peer=TL_peerChannel(channel_id=found.id), users=ArrayList(), chats=ArrayList([found])), None
        if isinstance(request, (TL_messages_requestWebView, TL_messages_requestMainWebView)):
            self.requests.append((account, name, getattr(request, "url", None)))
            bot_id = getattr(request.bot, "user_id", 0)
            bot = self.cloud.bots.get(bot_id)
            user = self.cloud.users.get(bot_id)
            if me is None or bot is None or user is None:
                return None, TL_error(code=400, text="BOT_INVALID")
            if getattr(request.bot, "access_hash", None) != user["access_hash"] or getattr(request.peer, "user_id", 0) != bot_id \
                    or getattr(request.peer, "access_hash", None) != user["access_hash"]:
                return None, TL_error(code=400, text="PEER_ID_INVALID")
            if request.platform != "android":
                return None, TL_error(code=400, text="PLATFORM_INVALID")
            if isinstance(request, TL_messages_requestWebView):
                if not request.flags & 2 or not request.url or request.url != bot["webapp_url"]:
                    return None, TL_error(code=400, text="URL_INVALID")
                base = request.url
            else:
                if not bot["main_app_url"]:
                    return None, TL_error(code=400, text="BOT_APP_INVALID")
                base = bot["main_app_url"]
            return TL_webViewResultUrl(query_id=random.getrandbits(62), url=self.cloud.web_view_url(base, bot_id, me)), None
        raise JavaException("the stand-in does not know %s" % name)


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


_message_ids = itertools.count(1000)


class MessageObject:
    """org.telegram.messenger.MessageObject, as far as the plugin reads it."""

    def __init__(self, sender_id, dialog_id=0, message_id=None):
        self._sender_id = sender_id
        self._dialog_id = dialog_id
        self._id = next(_message_ids) if message_id is None else message_id

    def getSenderId(self):
        return self._sender_id

    def getDialogId(self):
        return self._dialog_id

    def getId(self):
        return self._id


class Params:
    """SendMessagesHelper.SendMessageParams, as far as the plugin reads it."""

    def __init__(self, message, peer=0, reply_sender=None, reply_to=None, top=None):
        self.message = message
        self.peer = peer
        if reply_to is None and reply_sender is not None:
            reply_to = MessageObject(reply_sender, peer)
        self.replyToMsg = reply_to
        self.replyToTopMsg = top
