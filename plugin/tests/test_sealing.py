"""The plugin's sealing code (the "sealed answers" block of
plugin/whatclient.plugin, loaded with the host stand-ins as the other tests
load it) against the RFC test vectors, and the WhatClient wrapper
(seal_answer / open_answer, and their wire forms) against itself.

Where the vector bytes came from:
- RFC 7748 sections 5.2 and 6.1 (X25519): the RFC's hex, read from two public
  repositories that copy it (an X25519 vector table in Markdown and an AVP
  x25519.json with the section 5.2 cases) which agree byte for byte.
- RFC 8439 sections 2.4.2, 2.5.2 and 2.8.2: the RFC text itself
  (rfc8439.txt as kept in floodyberry/poly1305-donna).
- RFC 9180 appendix A.2.1: the RFC text itself (rfc9180.txt as kept in
  MFDI-hub/rfc9180-py).
A vector copied wrong could only make a test fail, never pass.
"""
import os
import types
import unittest

from fake_host import FakeHost, load_plugin_module

sealing = load_plugin_module(FakeHost(1))

h = bytes.fromhex


def text_hex(dump):
    """The bytes of an RFC 8439 hex dump ("000  4c 61 ...  Ladies ...")."""
    out = b""
    for line in dump.strip().splitlines():
        out += h("".join(line.strip().split("  ")[1].split()))
    return out


class X25519(unittest.TestCase):
    # RFC 7748 section 5.2.
    def test_function_vectors(self):
        vectors = [
            ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
             "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
             "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
            # The u here has its top bit set (last byte 0x93): it must be masked.
            ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
             "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
             "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
        ]
        for scalar, u, out in vectors:
            self.assertEqual(sealing._x25519(h(scalar), h(u)).hex(), out)

    # RFC 7748 section 5.2, iterated: k = u = 9, then (k, u) = (X25519(k, u), k).
    # The 1,000,000-iteration vector would take minutes here and is left out.
    def test_iterated_vectors(self):
        k = u = b"\x09" + bytes(31)
        for i in range(1, 1001):
            k, u = sealing._x25519(k, u), k
            if i == 1:
                self.assertEqual(k.hex(), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
        self.assertEqual(k.hex(), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")

    # RFC 7748 section 6.1.
    def test_diffie_hellman(self):
        alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        bob = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
        alice_public = sealing._x25519_public(alice)
        bob_public = sealing._x25519_public(bob)
        self.assertEqual(alice_public.hex(), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        self.assertEqual(bob_public.hex(), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        self.assertEqual(sealing._x25519_shared(alice, bob_public).hex(), shared)
        self.assertEqual(sealing._x25519_shared(bob, alice_public).hex(), shared)

    def test_low_order_public_keys_are_refused(self):
        # Points of small order give the all-zero output under every clamped
        # scalar: u = 0 and u = 1, the two points of order 8 (as listed in
        # several public X25519 test suites), and u = p - 1, p, p + 1, which a
        # decoder that reduces mod p meets as -1, 0 and 1.
        private_key, _ = sealing.make_key_pair()
        p = 2 ** 255 - 19
        low_order = [bytes(32), b"\x01" + bytes(31),
                     h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
                     h("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")]
        low_order += [(p + d).to_bytes(32, "little") for d in (-1, 0, 1)]
        for u in low_order:
            with self.assertRaises(sealing.SealError, msg=u.hex()):
                sealing._x25519_shared(private_key, u)

    def test_wrong_lengths_are_refused(self):
        with self.assertRaises(sealing.SealError):
            sealing._x25519(bytes(31), bytes(32))
        with self.assertRaises(sealing.SealError):
            sealing._x25519(bytes(32), bytes(33))


class ChaCha20Poly1305(unittest.TestCase):
    SUNSCREEN = text_hex("""
        000  4c 61 64 69 65 73 20 61 6e 64 20 47 65 6e 74 6c  Ladies and Gentl
        016  65 6d 65 6e 20 6f 66 20 74 68 65 20 63 6c 61 73  emen of the clas
        032  73 20 6f 66 20 27 39 39 3a 20 49 66 20 49 20 63  s of '99: If I c
        048  6f 75 6c 64 20 6f 66 66 65 72 20 79 6f 75 20 6f  ould offer you o
        064  6e 6c 79 20 6f 6e 65 20 74 69 70 20 66 6f 72 20  nly one tip for
        080  74 68 65 20 66 75 74 75 72 65 2c 20 73 75 6e 73  the future, suns
        096  63 72 65 65 6e 20 77 6f 75 6c 64 20 62 65 20 69  creen would be i
        112  74 2e                                            t.
    """)

    def test_sunscreen_is_the_rfc_plaintext(self):
        self.assertEqual(self.SUNSCREEN[:22], b"Ladies and Gentlemen o")
        self.assertEqual(len(self.SUNSCREEN), 114)

    # RFC 8439 section 2.4.2.
    def test_chacha20(self):
        key = bytes(range(32))
        nonce = h("000000000000004a00000000")
        expected = text_hex("""
            000  6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81  n.5.%h..A..(..i.
            016  e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b  .~z..C`..'......
            032  f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57  ..e.RG3..Y=..b.W
            048  16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8  .9.$.QR..S.5..a.
            064  07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e  ....P.jaV....".^
            080  52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36  R.QM.........y76
            096  5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42  Z...t.[......x^B
            112  87 4d                                            .M
        """)
        self.assertEqual(sealing._chacha20(key, 1, nonce, self.SUNSCREEN), expected)

    # RFC 8439 section 2.5.2.
    def test_poly1305(self):
        key = h("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
        self.assertEqual(sealing._poly1305(key, b"Cryptographic Forum Research Group").hex(),
                         "a8061dc1305136c6c22b8baf0c0127a9")

    # RFC 8439 section 2.8.2.
    def test_aead(self):
        key = bytes(range(0x80, 0xA0))
        nonce = h("07000000") + h("4041424344454647")  # fixed-common part, then IV
        aad = h("50515253c0c1c2c3c4c5c6c7")
        ciphertext = text_hex("""
            000  d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2  ...4d.`.{...S.~.
            016  a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6  ...Q)n......6.b.
            032  3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b  =..^..g....i..r.
            048  1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36  .q.....)....~.;6
            064  92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58  ....-w......(..X
            080  fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc  ..$...u.U...H1..
            096  3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b  ?....Kz..v.e...K
            112  61 16                                            a.
        """)
        tag = h("1ae10b594f09e26a7e902ecbd0600691")
        sealed = sealing._aead_seal(key, nonce, aad, self.SUNSCREEN)
        self.assertEqual(sealed, ciphertext + tag)
        self.assertEqual(sealing._aead_open(key, nonce, aad, sealed), self.SUNSCREEN)

    def test_aead_refuses_any_change(self):
        key, nonce, aad = bytes(range(32)), bytes(12), b"id"
        sealed = sealing._aead_seal(key, nonce, aad, b"plain text")
        for position in (0, len(sealed) - 1):  # the ciphertext and the tag
            bad = bytearray(sealed)
            bad[position] ^= 1
            with self.assertRaises(sealing.SealError):
                sealing._aead_open(key, nonce, aad, bytes(bad))
        with self.assertRaises(sealing.SealError):
            sealing._aead_open(key, nonce, b"other id", sealed)
        with self.assertRaises(sealing.SealError):
            sealing._aead_open(key, nonce, aad, sealed[:15])


class HPKE(unittest.TestCase):
    # RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    # ChaCha20Poly1305, mode_base.
    INFO = h("4f6465206f6e2061204772656369616e2055726e")
    IKM_E = h("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b")
    PK_EM = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
    SK_EM = "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600"
    IKM_R = h("1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df")
    PK_RM = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a"
    SK_RM = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb"
    ENC = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
    SHARED_SECRET = "0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7"
    KEY_SCHEDULE_CONTEXT = (
        "00431df6cd95e11ff49d7013563baf7f11588c75a6611e"
        "e2a4404a49306ae4cfc5b69c5718a60cc5876c358d3f7fc31ddb598503f67be58ea1"
        "e798c0bb19eb9796")
    SECRET = "5b9cd775e64b437a2335cf499361b2e0d5e444d5cb41a8a53336d8fe402282c6"
    KEY = "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91"
    BASE_NONCE = "5c4d98150661b848853b547f"
    EXPORTER_SECRET = "a3b010d4994890e2c6968a36f64470d3c824c8f5029942feb11e7a74b2921922"
    PT = h("4265617574792069732074727574682c20747275746820626561757479")
    ENCRYPTIONS = [  # sequence number, aad, nonce, ct
        (0, "436f756e742d30", "5c4d98150661b848853b547f",
         "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db"
         "21993c62ce81883d2dd1b51a28"),
        (1, "436f756e742d31", "5c4d98150661b848853b547e",
         "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e"
         "85285337cc95ba5f59992dc98c"),
        (2, "436f756e742d32", "5c4d98150661b848853b547d",
         "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02"
         "b4f10ecac6f48c32f878fae86b"),
        (4, "436f756e742d34", "5c4d98150661b848853b547b",
         "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122b"
         "b153495ff0b02e9e54a50dbe16"),
    ]

    def test_derive_key_pair(self):
        sk_e, pk_e = sealing._derive_key_pair(self.IKM_E)
        sk_r, pk_r = sealing._derive_key_pair(self.IKM_R)
        self.assertEqual((sk_e.hex(), pk_e.hex()), (self.SK_EM, self.PK_EM))
        self.assertEqual((sk_r.hex(), pk_r.hex()), (self.SK_RM, self.PK_RM))

    def test_encap_and_decap(self):
        sk_e, _ = sealing._derive_key_pair(self.IKM_E)
        shared_secret, enc = sealing._encap(h(self.PK_RM), sk_e)
        self.assertEqual((shared_secret.hex(), enc.hex()), (self.SHARED_SECRET, self.ENC))
        self.assertEqual(sealing._decap(enc, h(self.SK_RM)).hex(), self.SHARED_SECRET)

    def test_key_schedule(self):
        context = sealing._Context(h(self.SHARED_SECRET), self.INFO)
        self.assertEqual(context.key_schedule_context.hex(), self.KEY_SCHEDULE_CONTEXT)
        self.assertEqual(context.secret.hex(), self.SECRET)
        self.assertEqual(context.key.hex(), self.KEY)
        self.assertEqual(context.base_nonce.hex(), self.BASE_NONCE)
        self.assertEqual(context.exporter_secret.hex(), self.EXPORTER_SECRET)

    def test_encryptions_end_to_end(self):
        # From ikmE and the recipient's public key to every ciphertext; the
        # recipient's context opens them in the same order.
        sk_e, _ = sealing._derive_key_pair(self.IKM_E)
        shared_secret, enc = sealing._encap(h(self.PK_RM), sk_e)
        sender = sealing._Context(shared_secret, self.INFO)
        recipient = sealing._Context(sealing._decap(enc, h(self.SK_RM)), self.INFO)
        for seq, aad, nonce, ct in self.ENCRYPTIONS:
            while sender.seq < seq:  # skipped numbers: move both counters on
                sender.seq += 1
                recipient.seq += 1
            self.assertEqual(sender._nonce().hex(), nonce)
            self.assertEqual(sender.seal(h(aad), self.PT).hex(), ct)
            self.assertEqual(recipient.open(h(aad), h(ct)), self.PT)
        self.assertEqual((sender.seq, recipient.seq), (5, 5))

    def test_failed_open_does_not_move_the_counter(self):
        recipient = sealing._Context(h(self.SHARED_SECRET), self.INFO)
        seq, aad, _, ct = self.ENCRYPTIONS[0]
        with self.assertRaises(sealing.SealError):
            recipient.open(b"wrong aad", h(ct))
        self.assertEqual(recipient.seq, 0)
        self.assertEqual(recipient.open(h(aad), h(ct)), self.PT)


class SealedAnswers(unittest.TestCase):
    REQUEST_ID = "5f0c2a2e-3d0f-4e6b-9a43-2b1c8d7e6f50"

    def test_round_trip(self):
        private_key, public_key = sealing.make_key_pair()
        for name in ("org.telegram.messenger", "com.exteragram.messenger", "ä" * 128, "x" * 256):
            enc, ciphertext = sealing.seal_answer(public_key, self.REQUEST_ID, name)
            self.assertEqual((len(enc), len(ciphertext)), (32, 256 + 16))
            self.assertEqual(sealing.open_answer(private_key, enc, ciphertext, self.REQUEST_ID), name)

    def test_length_does_not_depend_on_the_name(self):
        _, public_key = sealing.make_key_pair()
        short = sealing.seal_answer(public_key, self.REQUEST_ID, "a.b")
        long = sealing.seal_answer(public_key, self.REQUEST_ID, "a.b" * 80)
        self.assertEqual(len(short[1]), len(long[1]))

    def test_each_seal_is_fresh(self):
        _, public_key = sealing.make_key_pair()
        first = sealing.seal_answer(public_key, self.REQUEST_ID, "org.telegram.messenger")
        second = sealing.seal_answer(public_key, self.REQUEST_ID, "org.telegram.messenger")
        self.assertNotEqual(first[0], second[0])
        self.assertNotEqual(first[1], second[1])

    def test_names_that_cannot_be_sealed(self):
        _, public_key = sealing.make_key_pair()
        for name in ("", "x" * 257, "ä" * 129, "a\x00b"):
            with self.assertRaises(sealing.SealError):
                sealing.seal_answer(public_key, self.REQUEST_ID, name)
        with self.assertRaises(sealing.SealError):
            sealing.seal_answer(public_key[:31], self.REQUEST_ID, "org.telegram.messenger")
        with self.assertRaises(sealing.SealError):
            sealing.seal_answer(bytes(32), self.REQUEST_ID, "org.telegram.messenger")

    def test_opens_only_with_its_key_and_request_id(self):
        private_key, public_key = sealing.make_key_pair()
        other_private_key, _ = sealing.make_key_pair()
        enc, ciphertext = sealing.seal_answer(public_key, self.REQUEST_ID, "org.telegram.messenger")
        with self.assertRaises(sealing.SealError):
            sealing.open_answer(other_private_key, enc, ciphertext, self.REQUEST_ID)
        with self.assertRaises(sealing.SealError):
            sealing.open_answer(private_key, enc, ciphertext, self.REQUEST_ID + "x")
        bad = bytearray(ciphertext)
        bad[0] ^= 1
        with self.assertRaises(sealing.SealError):
            sealing.open_answer(private_key, enc, bytes(bad), self.REQUEST_ID)
        with self.assertRaises(sealing.SealError):
            sealing.open_answer(private_key, enc, ciphertext[:-1], self.REQUEST_ID)
        with self.assertRaises(sealing.SealError):
            sealing.open_answer(private_key, bytes(32), ciphertext, self.REQUEST_ID)

    def seal_raw(self, public_key, plaintext):
        """Seal any 256 bytes the way seal_answer does, to test what opening refuses."""
        shared_secret, enc = sealing._encap(public_key, sealing.make_key_pair()[0])
        context = sealing._Context(shared_secret, b"whatclient/v2 answer")
        return enc, context.seal(self.REQUEST_ID.encode("utf-8"), plaintext)

    def test_opening_refuses_bad_padding(self):
        private_key, public_key = sealing.make_key_pair()
        good = b"org.telegram.messenger"
        enc, ciphertext = self.seal_raw(public_key, good + bytes(256 - len(good)))
        self.assertEqual(sealing.open_answer(private_key, enc, ciphertext, self.REQUEST_ID), good.decode())
        for plaintext in (
            good + b"\x00x" + bytes(256 - len(good) - 2),  # a byte after the padding began
            good + bytes(255 - len(good)) + b"\x01",       # the last byte
            bytes(256),                                    # no name at all
            b"\xff" + bytes(255),                          # not UTF-8
        ):
            enc, ciphertext = self.seal_raw(public_key, plaintext)
            with self.assertRaises(sealing.SealError):
                sealing.open_answer(private_key, enc, ciphertext, self.REQUEST_ID)

    def test_opens_what_a_plain_hpke_sender_sealed(self):
        # The same construction written out from RFC 9180 pieces: the wrapper
        # adds nothing beyond info, aad and the padding the protocol names.
        private_key, public_key = sealing.make_key_pair()
        name = b"com.radolyn.ayugram"
        enc, ciphertext = self.seal_raw(public_key, name + bytes(256 - len(name)))
        self.assertEqual(sealing.open_answer(private_key, enc, ciphertext, self.REQUEST_ID), name.decode())


class Base64Url(unittest.TestCase):
    def test_round_trip_without_padding(self):
        for size in range(0, 40):
            data = os.urandom(size)
            text = sealing.b64url_encode(data)
            self.assertNotIn("=", text)
            self.assertEqual(sealing.b64url_decode(text), data)
        self.assertEqual(sealing.b64url_encode(b"\xfb\xff"), "-_8")

    def test_refuses_what_is_not_canonical_base64url(self):
        for text in ("-_8=", "+/8", "-_9", "a", "ab cd", "abc\n", "ab*d", "é"):
            with self.assertRaises(sealing.SealError, msg=text):
                sealing.b64url_decode(text)


class OnTheWire(unittest.TestCase):
    """What the plugin sends and reads: base64url fields, and the refusals that
    keep a sealed question from ever being answered in plain."""
    REQUEST_ID = "5f0c2a2e-3d0f-4e6b-9a43-2b1c8d7e6f50"

    def test_round_trip(self):
        private_key, public_key = sealing.make_key_pair()
        sealed = sealing.seal_for_wire(sealing.b64url_encode(public_key), self.REQUEST_ID, "com.radolyn.ayugram")
        self.assertEqual(sorted(sealed), ["ciphertext", "enc"])
        self.assertEqual((len(sealed["enc"]), len(sealed["ciphertext"])), (43, 363))  # 32 and 272 bytes
        self.assertEqual(sealing.open_from_wire(private_key, sealed, self.REQUEST_ID), "com.radolyn.ayugram")

    def test_keys_no_one_can_seal_to(self):
        _, public_key = sealing.make_key_pair()
        good = sealing.b64url_encode(public_key)
        for key in (None, 5, [good], "", good + "=", good[:-1], good.replace("-", "+").replace("_", "/") + "+",
                    sealing.b64url_encode(bytes(32)), sealing.b64url_encode(b"\x01" + bytes(31)), good + "AA"):
            with self.assertRaises(sealing.SealError, msg=repr(key)):
                sealing.seal_for_wire(key, self.REQUEST_ID, "com.radolyn.ayugram")

    def test_only_a_sealed_answer_opens(self):
        private_key, public_key = sealing.make_key_pair()
        sealed = sealing.seal_for_wire(sealing.b64url_encode(public_key), self.REQUEST_ID, "app.nicegram")
        for answer in (None, {}, {"client_name": "Nicegram", "package_name": "app.nicegram"}, "sealed",
                       {"enc": sealed["enc"]}, dict(sealed, ciphertext=None), dict(sealed, enc=5),
                       dict(sealed, enc=sealed["enc"] + "="), dict(sealed, ciphertext=sealed["ciphertext"][:-4])):
            with self.assertRaises(sealing.SealError, msg=repr(answer)):
                sealing.open_from_wire(private_key, answer, self.REQUEST_ID)


class Replies(unittest.TestCase):
    """reply_to: what the answering side sends for each kind of task."""

    def test_plain_sealed_unusable_and_declined(self):
        private_key, public_key = sealing.make_key_pair()
        plain_task = {"request_id": "r1", "requester_id": None, "verified": True}
        sealed_task = dict(plain_task, request_id="r2", public_key=sealing.b64url_encode(public_key))
        self.assertEqual(sealing.reply_to(plain_task, "app.nicegram", True), ("app.nicegram", None))
        plain, sealed = sealing.reply_to(sealed_task, "app.nicegram", True)
        self.assertIsNone(plain)
        self.assertEqual(sealing.open_from_wire(private_key, sealed, "r2"), "app.nicegram")
        # Sealed to another request id, it does not open: the aad binds it.
        with self.assertRaises(sealing.SealError):
            sealing.open_from_wire(private_key, sealed, "r1")
        for task in (plain_task, sealed_task):
            self.assertEqual(sealing.reply_to(task, "app.nicegram", False), (None, None))
        # A sealed task whose key is unusable, or null, is declined, never answered in plain.
        for key in (sealing.b64url_encode(bytes(32)), "not a key", None, 7):
            self.assertEqual(sealing.reply_to(dict(sealed_task, public_key=key), "app.nicegram", True), (None, None), key)


class KeysOfSealedAsks(unittest.TestCase):
    def setUp(self):
        self.clock = [1000.0]
        real_time = sealing.time
        sealing.time = types.SimpleNamespace(monotonic=lambda: self.clock[0], time=real_time.time)
        self.addCleanup(setattr, sealing, "time", real_time)

    def test_one_key_pair_per_ask_until_its_request_ends(self):
        keys = sealing.AskKeys()
        first = keys.key_for((0, 5, 7, True))
        self.assertEqual(sealing._x25519_public(first[0]), first[1])
        self.assertEqual(keys.key_for((0, 5, 7, True)), first)       # asking again: the same request
        self.assertNotEqual(keys.key_for((0, 5, 7, False))[1], first[1])  # named: another ask
        self.assertNotEqual(keys.key_for((1, 6, 7, True))[1], first[1])   # another account
        keys.done((0, 5, 7, True), first[1])
        fresh = keys.key_for((0, 5, 7, True))
        self.assertNotEqual(fresh[1], first[1])
        keys.done((0, 5, 7, True), first[1])  # an older key's end leaves the newer one
        self.assertEqual(keys.key_for((0, 5, 7, True)), fresh)

    def test_a_key_pair_goes_once_its_request_must_have_expired(self):
        keys = sealing.AskKeys()
        first = keys.key_for("ask")
        self.clock[0] += sealing.ASK_TIMEOUT_SECONDS - 1
        self.assertEqual(keys.key_for("ask"), first)  # used again: it may open the request anew
        self.clock[0] += sealing.ASK_TIMEOUT_SECONDS - 1
        self.assertEqual(keys.key_for("ask"), first)
        self.clock[0] += sealing.ASK_TIMEOUT_SECONDS
        keys.key_for("other")
        self.assertEqual(len(keys), 1)
        self.assertNotEqual(keys.key_for("ask"), first)

    def test_bounded(self):
        keys = sealing.AskKeys()
        oldest = keys.key_for(0)
        for ask in range(1, sealing.ASK_KEYS_MAX + 10):
            keys.key_for(ask)
        self.assertEqual(len(keys), sealing.ASK_KEYS_MAX)
        self.assertNotEqual(keys.key_for(0), oldest)


class NamingWithoutACatalogue(unittest.TestCase):
    """Server.client_name when GET /v2/catalogue cannot be read and none was
    read before: the opened name is shown as it is only if it is a package
    name, since the target's app chose it and no server checked it."""

    def test_only_a_package_name_is_shown_as_it_is(self):
        server = sealing.Server("http://127.0.0.1:9", "")

        def unreachable(_session, _etag=None):
            raise sealing.WcError(sealing.UNREACHABLE, "test")
        server.v2.catalogue = unreachable
        with sealing.Session() as session:
            self.assertEqual(server.client_name(session, "com.radolyn.ayugram"), "com.radolyn.ayugram")
            self.assertEqual(server.client_name(session, "a.b_1.C"), "a.b_1.C")
            for shown in ("Telegram (verified)", "org.telegram.messenger\nuses Telegram", "single", "a..b", "1a.b",
                          "a.b.", "é.b", "a." + "b" * 254):
                self.assertEqual(server.client_name(session, shown), "Unknown Client", shown)


class CacheControl(unittest.TestCase):
    def test_max_age(self):
        self.assertEqual(sealing._max_age("public, max-age=3600"), 3600)
        self.assertEqual(sealing._max_age('max-age="60"'), 60)
        self.assertEqual(sealing._max_age("MAX-AGE=5, public"), 5)
        self.assertEqual(sealing._max_age("max-age=99999999"), sealing.CATALOGUE_MAX_AGE_SECONDS)
        for header in (None, "", "public", "no-cache, max-age=60", "max-age=60, no-store", "s-maxage=60", "max-age=-1"):
            self.assertEqual(sealing._max_age(header), 0, header)


if __name__ == "__main__":
    unittest.main()
