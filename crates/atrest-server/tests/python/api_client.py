"""A Python client of the atrest HTTP API (requests, on Python's ssl/OpenSSL), run by tests/python_client.rs.

Usage: api_client.py BASE_URL CA_FILE ADMIN_TOKEN READER_TOKEN
Exits non-zero (an AssertionError with what differed) when the server does not answer as docs/api.md says.
"""

import hashlib
import json
import sys

import requests

base, ca, admin, reader = sys.argv[1:5]
# Sessions ignore the environment (a REQUESTS_CA_BUNDLE or proxy setting would override `verify`).
s = requests.Session()
s.trust_env = False
s.verify = ca
s.headers["Authorization"] = "Bearer " + admin
ro = requests.Session()
ro.trust_env = False
ro.verify = ca
ro.headers["Authorization"] = "Bearer " + reader


def check(r, status, what):
    assert r.status_code == status, f"{what}: {r.status_code} {r.text[:300]}"
    return r


# Health without a token; the rest need one.
check(requests.get(base + "/v1/health", verify=ca), 200, "health")
r = check(requests.get(base + "/v1/info", verify=ca), 401, "info without a token")
assert r.headers.get("WWW-Authenticate") == "Bearer", r.headers
assert "error" in r.json()

# Collections.
check(s.post(base + "/v1/collections/people", json={"index": ["/city"]}), 201, "create")
check(s.post(base + "/v1/collections/people", json={"index": "all"}), 409, "create twice")
check(s.post(base + "/v1/collections/bad", json={"index": ["city"]}), 400, "bad pointer")

# Documents, ETags, conditional writes; ids with characters that need encoding.
doc = {"name": "Ada", "city": "London", "tags": ["x", "é"]}
r = check(s.put(base + "/v1/collections/people/docs/ada%20l%2F1", data=json.dumps(doc)), 204, "put")
tag = r.headers["ETag"]
r = check(s.get(base + "/v1/collections/people/docs/ada%20l%2F1"), 200, "get")
assert r.json() == doc and r.headers["ETag"] == tag and r.headers["Content-Type"] == "application/json"
check(s.get(base + "/v1/collections/people/docs/ada%20l%2F1", headers={"If-None-Match": tag}), 304, "304")
check(s.put(base + "/v1/collections/people/docs/ada%20l%2F1", data="{}", headers={"If-Match": '"0000"'}), 412, "stale If-Match")
r = check(s.put(base + "/v1/collections/people/docs/ada%20l%2F1", data=json.dumps({**doc, "n": 2}), headers={"If-Match": tag}), 204, "If-Match")
assert r.headers["ETag"] != tag
check(s.put(base + "/v1/collections/people/docs/new", data="{}", headers={"If-None-Match": "*"}), 204, "create only")
check(s.put(base + "/v1/collections/people/docs/new", data="{}", headers={"If-None-Match": "*"}), 412, "create only, again")
check(s.put(base + "/v1/collections/people/docs/x", data="[1,2"), 400, "not JSON")
check(ro.put(base + "/v1/collections/people/docs/x", data="{}"), 403, "read-only token writing")
check(ro.get(base + "/v1/collections/people/docs/new"), 200, "read-only token reading")

# A streamed import (chunked: the body is a generator), then find and a paged scan.
def lines():
    for i in range(3000):
        yield (json.dumps({"id": f"p{i:05}", "city": ["Paris", "Oslo", "Lima"][i % 3], "i": i}) + "\n").encode()

r = check(s.post(base + "/v1/collections/people/import?batch=500", data=lines()), 200, "import")
assert r.json()["committed"] == 3000, r.json()
r = check(s.post(base + "/v1/collections/people/import", data=b'{"id":"q1"}\n{"id":\n'), 400, "bad import line")
assert r.json()["line"] == 2 and r.json()["committed"] == 1, r.json()
r = check(s.get(base + "/v1/collections/people/find", params={"pointer": "/city", "value": '"Oslo"'}), 200, "find")
assert r.json()["count"] == 1000 and all(d["doc"]["city"] == "Oslo" for d in r.json()["documents"])
check(s.get(base + "/v1/collections/people/find", params={"pointer": "/name", "value": "Ada"}), 400, "find, not indexed")
seen, after = [], None
while True:
    params = {"limit": 700, **({"after": after} if after else {})}
    page = check(s.get(base + "/v1/collections/people/docs", params=params), 200, "scan").json()
    seen += [d["id"] for d in page["documents"]]
    after = page["next"]
    if after is None:
        break
assert len(seen) == 3000 + 3 and seen == sorted(seen), (len(seen), seen[:5])
r = check(s.get(base + "/v1/collections"), 200, "list")
assert {"name": "people", "index": ["/city"], "documents": 3003} in r.json()["collections"], r.json()

# An attachment of 3 MiB both ways, streamed.
blob = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)
url = base + "/v1/collections/people/docs/new/attachments/scan.bin"
r = check(s.put(url, data=iter([blob[i:i + 65536] for i in range(0, len(blob), 65536)])), 200, "attach")
assert r.json()["bytes"] == len(blob)
r = check(s.get(url, stream=True), 200, "attachment")
assert int(r.headers["Content-Length"]) == len(blob)
assert b"".join(r.iter_content(1 << 16)) == blob
check(s.delete(url), 204, "delete attachment")
check(s.get(url), 404, "deleted attachment")

# Tokens through the server; info and metrics.
r = check(s.post(base + "/v1/admin/tokens", json={"read_only": True, "collections": ["people"]}), 201, "token")
new = r.json()
assert new["token"].startswith("atrest_") and new["read_only"] is True
t = requests.get(base + "/v1/collections/people/docs/new", verify=ca, headers={"Authorization": "Bearer " + new["token"]})
check(t, 200, "the new token")
check(s.delete(base + "/v1/admin/tokens/" + new["id"]), 204, "revoke")
t = requests.get(base + "/v1/collections/people/docs/new", verify=ca, headers={"Authorization": "Bearer " + new["token"]})
check(t, 401, "a revoked token")
check(ro.get(base + "/v1/admin/tokens"), 403, "tokens need admin")
info = check(s.get(base + "/v1/info"), 200, "info").json()
assert info["collections"][0]["documents"] == 3003, info
metrics = check(s.get(base + "/metrics"), 200, "metrics").text
assert "atrest_http_requests_total{" in metrics, metrics[:500]

# Delete and drop.
check(s.delete(base + "/v1/collections/people/docs/new"), 204, "delete")
check(s.delete(base + "/v1/collections/people/docs/new"), 404, "delete twice")
check(s.delete(base + "/v1/collections/people"), 204, "drop")
check(s.get(base + "/v1/collections/people/docs/p00001"), 404, "dropped")
print("python client: ok")
