"""The plugin's sealing code (the "sealed answers" block of
plugin/whatclient.plugin) as the other end of the SDK's interop tests.
Reads one JSON command on stdin, prints one JSON answer:

  {"op": "key_pair"}
      -> {"private_key", "public_key"}          (base64url)
  {"op": "seal", "public_key", "answers": [{"request_id", "package_name"}]}
      -> [{"enc", "ciphertext"}]                 (base64url)
  {"op": "open", "private_key", "answers": [{"request_id", "enc", "ciphertext"}]}
      -> [{"package_name"} or {"error"}]

The private key crosses stdout only here, between a test and its own child.
"""
import json
import os
import sys

# The plugin file itself, loaded with the host stand-ins its own tests use:
# the code under test is the one that ships.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugin", "tests"))
from fake_host import FakeHost, load_plugin_module  # noqa: E402 (needs the path above)

sealing = load_plugin_module(FakeHost(1))


def open_one(private_key, answer):
    try:
        name = sealing.open_answer(private_key, sealing.b64url_decode(answer["enc"]),
                                   sealing.b64url_decode(answer["ciphertext"]), answer["request_id"])
        return {"package_name": name}
    except sealing.SealError as error:
        return {"error": str(error)}


def main():
    command = json.load(sys.stdin)
    op = command["op"]
    if op == "key_pair":
        private_key, public_key = sealing.make_key_pair()
        out = {"private_key": sealing.b64url_encode(private_key),
               "public_key": sealing.b64url_encode(public_key)}
    elif op == "seal":
        public_key = sealing.b64url_decode(command["public_key"])
        out = []
        for answer in command["answers"]:
            enc, ciphertext = sealing.seal_answer(public_key, answer["request_id"], answer["package_name"])
            out.append({"enc": sealing.b64url_encode(enc), "ciphertext": sealing.b64url_encode(ciphertext)})
    elif op == "open":
        private_key = sealing.b64url_decode(command["private_key"])
        out = [open_one(private_key, answer) for answer in command["answers"]]
    else:
        raise SystemExit("unknown op: %s" % op)
    json.dump(out, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
