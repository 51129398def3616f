"""The sandbox's attachment routes over HTTP: signed URLs refused when expired, forged,
used for another path or method; Range answers; the v2 shapes, scopes and errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.attachments.conftest import job_ids, session_backend, set_faults
from tests.helpers import login


@pytest.fixture(scope="module")
def http(att_server: SandboxServer, tokens: Path) -> httpx.Client:
    """The session API as the demo user (the shared session: one TOTP login)."""
    token = session_backend(att_server, tokens).transport.auth.token()
    return httpx.Client(base_url=att_server.base_url, headers={"Authorization": f"Bearer {token}"})


def v2_client(server: SandboxServer, app: int = 0) -> httpx.Client:
    demo = DEMO_APPS[app]
    form = {
        "grant_type": "client_credentials",
        "client_id": demo.client_id,
        "client_secret": demo.client_secret,
    }
    token = httpx.post(f"{server.base_url}/connect/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "ST-App-Key": demo.app_key}
    return httpx.Client(base_url=server.base_url, headers=headers)


def test_listing_and_range(att_server: SandboxServer, http: httpx.Client) -> None:
    rows = http.get(f"/jobs/{job_ids(att_server)[6]}/attachments").json()["data"]
    first = rows[0]
    assert set(first) >= {"id", "fileName", "contentType", "size", "sha256", "downloadUrl"}
    whole = httpx.get(first["downloadUrl"])
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == first["sha256"]
    part = httpx.get(first["downloadUrl"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{first['size']}"
    beyond = httpx.get(first["downloadUrl"], headers={"Range": f"bytes={first['size']}-"})
    assert beyond.status_code == 416


def test_signed_urls_refuse_expired_forged_and_misused(
    att_server: SandboxServer, http: httpx.Client
) -> None:
    url = http.get(f"/jobs/{job_ids(att_server)[7]}/attachments").json()["data"][0]["downloadUrl"]
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    other_path = url.replace("/content?", "0/content?", 1)
    later = url.replace("expires=", "expires=9", 1)
    for bad in (forged, other_path, later, url.split("?")[0]):
        answer = httpx.get(bad)
        assert answer.status_code == 403, bad
        assert answer.json()["error"]["code"] in ("signature_invalid", "signature_missing")
    assert httpx.put(url, content=b"x").status_code == 403  # signed for GET only
    assert httpx.delete(url).status_code == 403
    set_faults(att_server, clockOffsetSeconds=901)  # past the 15-minute lifetime
    expired = httpx.get(url)
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "url_expired"


def test_upload_url_flow_and_checksum_mismatch(
    att_server: SandboxServer, http: httpx.Client, tmp_path: Path
) -> None:
    job = job_ids(att_server)[8]
    data = b"inspection notes\n" * 5000
    declared = {
        "fileName": "notes.txt",
        "contentType": "text/plain",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    slot = http.post(f"/jobs/{job}/attachments/uploads", json=declared)
    assert slot.status_code == 201, slot.text
    upload_url = slot.json()["uploadUrl"]
    assert httpx.get(upload_url).status_code == 403  # signed for PUT only
    damaged = httpx.put(upload_url, content=data[:-1] + b"?")
    assert damaged.status_code == 422 and damaged.json()["error"]["code"] == "checksum_mismatch"
    kept = httpx.put(upload_url, content=data)
    assert kept.status_code == 201 and kept.json()["sha256"] == declared["sha256"]
    assert httpx.put(upload_url, content=data).status_code == 409
    names = [r["fileName"] for r in http.get(f"/jobs/{job}/attachments").json()["data"]]
    assert names.count("notes.txt") == 1
    readonly = login(att_server.base_url, "readonly")["token"]
    refused = httpx.post(
        f"{att_server.base_url}/jobs/{job}/attachments/uploads",
        json=declared,
        headers={"Authorization": f"Bearer {readonly}"},
    )
    assert refused.status_code == 403


def test_v2_shapes_scopes_and_errors(att_server: SandboxServer) -> None:
    job = job_ids(att_server)[9]
    base = f"/forms/v2/tenant/{SANDBOX_TENANT_ID}/jobs"
    v2 = v2_client(att_server)
    listed = v2.get(f"{base}/{job}/attachments", params={"includeTotal": "true"}).json()
    assert set(listed) == {"page", "pageSize", "hasMore", "totalCount", "data"}
    assert set(listed["data"][0]) == {"id", "fileName", "type", "createdOn", "createdById"}
    upload = v2.post(f"{base}/{job}/attachments", files={"file": ("a.bin", b"\x01" * 3000)})
    assert upload.status_code == 200 and upload.json() == {"fileName": "a.bin"}
    again = v2.get(f"{base}/{job}/attachments").json()
    assert again["data"][-1]["fileName"] == "a.bin"
    assert v2.get(f"{base}/attachment/{again['data'][-1]['id']}").content == b"\x01" * 3000
    missing = v2.get(f"{base}/attachment/5")
    assert missing.status_code == 404 and missing.json()["title"] == "no attachment 5"
    no_file = v2.post(f"{base}/{job}/attachments", content=b"x")
    assert no_file.status_code == 400
    readonly = v2_client(att_server, app=1)
    denied = readonly.post(f"{base}/{job}/attachments", files={"file": ("b.bin", b"x")})
    assert denied.status_code == 403 and "tn.frm.jobs:w" in denied.json()["title"]
