"""A v1 field client, as plugins in the field speak it: stdlib only, signing
exactly like the seed's Python example (json.dumps spacing, raw body bytes,
the GET path). Runs a full Alice/Bob flow and prints what it saw as JSON."""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request

BASE, KEY = sys.argv[1], sys.argv[2].encode("utf-8")
ALICE, BOB = int(sys.argv[3]), int(sys.argv[4])


def call(method, path, payload=None):
    if payload is None:
        body, signed = None, path.encode("utf-8")
    else:
        body = json.dumps(payload).encode("utf-8")
        signed = body
    headers = {"X-Signature": hmac.new(KEY, signed, hashlib.sha256).hexdigest()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


seen = {}
status, body = call("POST", "/requestClient", {"requester_id": ALICE, "target_id": BOB})
seen["request"] = [status, body]
request_id = body["request_id"]
seen["tasks"] = list(call("GET", "/getTasks/%d" % BOB))
seen["pending"] = list(call("GET", "/getRequestResult/" + request_id))
seen["submit"] = list(call("POST", "/submitTaskResult", {"request_id": request_id, "client_name": "com.radolyn.ayugram"}))
seen["retry"] = list(call("POST", "/submitTaskResult", {"request_id": request_id, "client_name": "com.radolyn.ayugram"}))
seen["again"] = list(call("POST", "/submitTaskResult", {"request_id": request_id, "client_name": "org.telegram.messenger"}))
seen["result"] = list(call("GET", "/getRequestResult/" + request_id))
seen["delivered"] = list(call("GET", "/getRequestResult/" + request_id))
try:
    urllib.request.urlopen(urllib.request.Request(BASE + "/getTasks/%d" % BOB, headers={"X-Signature": "0" * 64}), timeout=10)
except urllib.error.HTTPError as err:
    seen["bad_signature"] = [err.code, json.loads(err.read())]
seen["request_id"] = request_id
print(json.dumps(seen))
