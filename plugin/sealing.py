# ---------------------------------------------------------------- sealing
#
# Sealed answers (PROTOCOL.md, "Sealed answers"): the asker makes a one-use
# X25519 key pair, the target encrypts its package name to that key, and the
# server relays only ciphertext. The construction is HPKE (RFC 9180) in base
# mode with one suite, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
# ChaCha20-Poly1305, so the TypeScript SDK's HPKE library can open what this
# seals and the other way round.
#
# The phone has no crypto library, so the primitives are written here in pure
# standard-library Python: X25519 (RFC 7748), HKDF-SHA256 (RFC 5869, from
# hmac), ChaCha20 and Poly1305 (RFC 8439). Python integers are not constant
# time; that is acceptable because every key pair lives for one request only
# and an attacker sees at most one timing per key, over a phone's network.
#
# Public API: make_key_pair(), seal_answer(), open_answer(), b64url_encode(),
# b64url_decode(), SealError. The rest is private and kept only as large as
# this one suite needs.

import base64
import hashlib
import hmac
import os
import struct


class SealError(ValueError):
    """A key, sealed answer or wire field that must not be used."""


# ------------------------------------------------------------ X25519 (RFC 7748)

_P = 2 ** 255 - 19
_A24 = 121665  # (486662 - 2) / 4, the curve constant the ladder step needs


def _x25519(scalar, u_bytes):
    if len(scalar) != 32 or len(u_bytes) != 32:
        raise SealError("X25519 keys are 32 bytes")
    # Clamping makes the scalar a multiple of the cofactor 8 (a point of small
    # order then maps to zero, refused below) with a fixed top bit (so every
    # ladder has the same length).
    k = int.from_bytes(scalar, "little")
    k = (k & ~7 & ~(1 << 255)) | (1 << 254)
    # The top bit of u is ignored (RFC 7748 section 5); values >= p simply
    # reduce, as the RFC allows.
    x1 = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        # Conditional swap by mask rather than by branch, as the RFC writes it.
        mask = -(swap ^ bit)
        d = mask & (x2 ^ x3)
        x2, x3 = x2 ^ d, x3 ^ d
        d = mask & (z2 ^ z3)
        z2, z3 = z2 ^ d, z3 ^ d
        swap = bit
        # Only products are reduced mod p: Python ints cannot overflow, and a
        # big-int mod is the costly step, so sums and differences stay as they are.
        a = x2 + z2
        b = x2 - z2
        aa = a * a % _P
        bb = b * b % _P
        e = aa - bb
        da = (x3 - z3) * a % _P
        cb = (x3 + z3) * b % _P
        s = da + cb
        x3 = s * s % _P
        s = da - cb
        z3 = x1 * (s * s % _P) % _P
        x2 = aa * bb % _P
        z2 = e * (aa + _A24 * e) % _P
    x2 ^= -swap & (x2 ^ x3)  # the last conditional swap; x3, z3 are not needed
    z2 ^= -swap & (z2 ^ z3)
    # u = x2 / z2; Fermat inversion (z2 ** (p - 2)) maps z2 = 0 to 0.
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def _x25519_public(private_key):
    return _x25519(private_key, b"\x09" + bytes(31))


def _x25519_shared(private_key, public_key):
    shared = _x25519(private_key, public_key)
    # A low-order public key gives the all-zero output; RFC 7748 section 6.1
    # and RFC 9180 section 7.1.4 say to abort rather than use it.
    if hmac.compare_digest(shared, bytes(32)):
        raise SealError("the public key is not usable (all-zero shared secret)")
    return shared


# ------------------------------------------------------- HKDF-SHA256 (RFC 5869)

def _hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


# ---------------------------------------------- ChaCha20-Poly1305 (RFC 8439)

_MASK32 = 0xFFFFFFFF


def _chacha20_block(key_words, counter, nonce_words):
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += key_words + [counter] + nonce_words
    x = list(state)
    for _ in range(10):  # 20 rounds: a column round and a diagonal round each
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            x[a] = (x[a] + x[b]) & _MASK32
            t = x[d] ^ x[a]
            x[d] = ((t << 16) | (t >> 16)) & _MASK32
            x[c] = (x[c] + x[d]) & _MASK32
            t = x[b] ^ x[c]
            x[b] = ((t << 12) | (t >> 20)) & _MASK32
            x[a] = (x[a] + x[b]) & _MASK32
            t = x[d] ^ x[a]
            x[d] = ((t << 8) | (t >> 24)) & _MASK32
            x[c] = (x[c] + x[d]) & _MASK32
            t = x[b] ^ x[c]
            x[b] = ((t << 7) | (t >> 25)) & _MASK32
    return struct.pack("<16I", *[(x[i] + state[i]) & _MASK32 for i in range(16)])


def _chacha20(key, counter, nonce, data):
    key_words = list(struct.unpack("<8I", key))
    nonce_words = list(struct.unpack("<3I", nonce))
    stream = b"".join(_chacha20_block(key_words, counter + i, nonce_words)
                      for i in range((len(data) + 63) // 64))
    # XOR as one big integer: far faster in Python than byte by byte.
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(stream[:len(data)], "little")
    return mixed.to_bytes(len(data), "little")


def _poly1305(key, message):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        block = message[i:i + 16] + b"\x01"  # the 2^(8 * length) bit
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _aead_tag(key, nonce, aad, ciphertext):
    one_time_key = _chacha20_block(list(struct.unpack("<8I", key)), 0,
                                   list(struct.unpack("<3I", nonce)))[:32]
    mac_data = (aad + bytes(-len(aad) % 16) + ciphertext + bytes(-len(ciphertext) % 16)
                + struct.pack("<QQ", len(aad), len(ciphertext)))
    return _poly1305(one_time_key, mac_data)


def _aead_seal(key, nonce, aad, plaintext):
    ciphertext = _chacha20(key, 1, nonce, plaintext)
    return ciphertext + _aead_tag(key, nonce, aad, ciphertext)


def _aead_open(key, nonce, aad, sealed):
    if len(sealed) < 16:
        raise SealError("the ciphertext is too short")
    ciphertext, tag = sealed[:-16], sealed[-16:]
    if not hmac.compare_digest(_aead_tag(key, nonce, aad, ciphertext), tag):
        raise SealError("the sealed answer does not open with this key")
    return _chacha20(key, 1, nonce, ciphertext)


# -------------------------------------------------------- HPKE (RFC 9180)

# Suite ids: KEM 0x0020 DHKEM(X25519, HKDF-SHA256), KDF 0x0001 HKDF-SHA256,
# AEAD 0x0003 ChaCha20-Poly1305. The labels bind every derived value to them.
_KEM_SUITE = b"KEM" + struct.pack(">H", 0x0020)
_HPKE_SUITE = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0003)


def _labeled_extract(suite, salt, label, ikm):
    return _hkdf_extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite, prk, label, info, length):
    return _hkdf_expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite + label + info, length)


def _derive_key_pair(ikm):
    # RFC 9180 section 7.1.3 for X25519: every 32-byte string is a private key.
    prk = _labeled_extract(_KEM_SUITE, b"", b"dkp_prk", ikm)
    private_key = _labeled_expand(_KEM_SUITE, prk, b"sk", b"", 32)
    return private_key, _x25519_public(private_key)


def _extract_and_expand(dh, kem_context):
    prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE, prk, b"shared_secret", kem_context, 32)


def _encap(public_key_r, private_key_e):
    # The ephemeral key is a parameter so the RFC vectors can fix it.
    enc = _x25519_public(private_key_e)
    dh = _x25519_shared(private_key_e, public_key_r)
    return _extract_and_expand(dh, enc + public_key_r), enc


def _decap(enc, private_key_r):
    dh = _x25519_shared(private_key_r, enc)
    return _extract_and_expand(dh, enc + _x25519_public(private_key_r))


class _Context(object):
    """An HPKE encryption context, base mode (RFC 9180 sections 5.1, 5.2)."""

    def __init__(self, shared_secret, info):
        psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
        info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
        self.key_schedule_context = b"\x00" + psk_id_hash + info_hash  # mode_base
        self.secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
        self.key = self._expand(b"key", 32)
        self.base_nonce = self._expand(b"base_nonce", 12)
        self.exporter_secret = self._expand(b"exp", 32)
        self.seq = 0

    def _expand(self, label, length):
        return _labeled_expand(_HPKE_SUITE, self.secret, label, self.key_schedule_context, length)

    def _nonce(self):
        return (int.from_bytes(self.base_nonce, "big") ^ self.seq).to_bytes(12, "big")

    def _increment_seq(self):
        # A nonce must never repeat under one key, so the counter may not wrap.
        if self.seq >= (1 << 96) - 1:
            raise SealError("HPKE message limit reached")
        self.seq += 1

    def seal(self, aad, plaintext):
        ciphertext = _aead_seal(self.key, self._nonce(), aad, plaintext)
        self._increment_seq()
        return ciphertext

    def open(self, aad, ciphertext):
        plaintext = _aead_open(self.key, self._nonce(), aad, ciphertext)
        self._increment_seq()  # only a message that opened moves the counter on
        return plaintext


# ------------------------------------------------ WhatClient sealed answers

_ANSWER_INFO = b"whatclient/v2 answer"
_ANSWER_PAD = 256  # every sealed name is this long, so its length tells nothing


def make_key_pair():
    """A fresh one-use key pair: (private_key, public_key), 32 bytes each."""
    private_key = os.urandom(32)
    return private_key, _x25519_public(private_key)


def seal_answer(public_key, request_id, package_name):
    """Encrypt a package name to the asker's public key: (enc, ciphertext)."""
    name = package_name.encode("utf-8")
    if not name or len(name) > _ANSWER_PAD or b"\x00" in name:
        raise SealError("a package name is 1 to 256 bytes of UTF-8 without NUL")
    if len(public_key) != 32:
        raise SealError("a public key is 32 bytes")
    shared_secret, enc = _encap(public_key, os.urandom(32))
    context = _Context(shared_secret, _ANSWER_INFO)
    padded = name + bytes(_ANSWER_PAD - len(name))
    return enc, context.seal(request_id.encode("utf-8"), padded)


def open_answer(private_key, enc, ciphertext, request_id):
    """The package name inside a sealed answer; SealError if it does not open."""
    if len(enc) != 32 or len(ciphertext) != _ANSWER_PAD + 16:
        raise SealError("a sealed answer has a 32-byte enc and a 272-byte ciphertext")
    context = _Context(_decap(enc, private_key), _ANSWER_INFO)
    padded = context.open(request_id.encode("utf-8"), ciphertext)
    # The name ends at the first zero byte; everything after must be zero too,
    # so one plaintext has exactly one reading.
    end = padded.find(b"\x00")
    end = len(padded) if end < 0 else end
    if end == 0 or padded[end:] != bytes(len(padded) - end):
        raise SealError("the sealed answer is not a padded package name")
    try:
        return padded[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise SealError("the sealed answer is not UTF-8")


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding: one encoding per byte string."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise SealError("not base64url")
    # urlsafe_b64decode skips stray characters and ignores unused bits;
    # re-encoding and comparing refuses both (and '+', '/', '=').
    if b64url_encode(data) != text:
        raise SealError("not canonical base64url without padding")
    return data
