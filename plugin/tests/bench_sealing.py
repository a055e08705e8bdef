"""How long the plugin's sealing (its "sealed answers" block) takes under this CPython: one X25519 scalar
multiplication, a key pair, and sealing and opening one 256-byte answer.
Run: python3 plugin/tests/bench_sealing.py  (not a test: unittest skips it).
Figures are the best of 15 runs of 20 calls each, so other load on the
machine inflates them less."""
import os
import platform
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_host import FakeHost, load_plugin_module  # noqa: E402 (needs the path above)

sealing = load_plugin_module(FakeHost(1))


def main():
    private_key, public_key = sealing.make_key_pair()
    request_id = "5f0c2a2e-3d0f-4e6b-9a43-2b1c8d7e6f50"
    name = "org.telegram.messenger"
    enc, ciphertext = sealing.seal_answer(public_key, request_id, name)
    cases = [
        ("X25519 scalar multiplication", lambda: sealing._x25519(private_key, public_key)),
        ("make_key_pair", sealing.make_key_pair),
        ("seal_answer (256-byte answer)", lambda: sealing.seal_answer(public_key, request_id, name)),
        ("open_answer (256-byte answer)", lambda: sealing.open_answer(private_key, enc, ciphertext, request_id)),
    ]
    print("CPython %s on %s" % (platform.python_version(), platform.machine()))
    for label, call in cases:
        best = min(timeit.repeat(call, number=20, repeat=15)) / 20
        print("%-32s %6.2f ms" % (label, best * 1000))


if __name__ == "__main__":
    sys.exit(main())
