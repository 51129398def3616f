"""Downloading one big attachment: wall time, throughput and the client's memory.

    python -m benchmarks.attachments --mb 200

The sandbox runs as a subprocess (``st-sandbox serve --large-attachment-mb N``), so the
numbers are the client's alone: the attachment is streamed into the blob store in 1 MiB
chunks, hashed as it streams, and renamed to its address. For each backend this prints
the seconds, MB/s, the peak of Python allocations during the download (tracemalloc) and
the growth of the process's peak RSS. The session API lists a SHA-256 (the sandbox hashes
the file when it is first listed: ``list`` seconds); v2 lists none, and a file above
``verify_max_bytes`` is downloaded once. ``tests/attachments/test_download.py`` runs the
same path with 32 MB.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from st_resources.attachments import BlobStore, DownloadPolicy, download
from st_resources.backend import Backend
from st_resources.resource import SessionApiResource, V2ApiResource
from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.config import SandboxConfig
from st_sandbox.server import SandboxProcess
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID


def backends(base_url: str, tokens: Path) -> dict[str, Backend]:
    """The two backends over the sandbox, as its demo user and its demo app."""
    app = DEMO_APPS[0]
    session = SessionApiResource(
        base_url=base_url,
        username="demo",
        password="demo-password",
        mfa_method="totp",
        totp_secret=DEMO_TOTP_SECRET,
        rate_limit=1000,
        token_cache_dir=str(tokens / "session"),
    )
    v2 = V2ApiResource(
        client_id=app.client_id,
        client_secret=app.client_secret,
        app_key=app.app_key,
        tenant_id=SANDBOX_TENANT_ID,
        auth_url=base_url,
        api_url=base_url,
        rate_limit=1000,
        token_cache_dir=str(tokens / "v2"),
    )
    return {"session": session.get_backend(), "v2": v2.get_backend()}


def first_job(session: Backend) -> int:
    """The lowest job id: the sandbox puts the large attachment on it."""
    body = session.transport.get_json("/jobs", {"pageSize": 5000})  # type: ignore[attr-defined]
    return min(int(job["id"]) for job in body["data"])


def max_rss_mb() -> float:
    """This process's peak resident set so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, backend: Backend, job_id: int, folder: Path) -> dict[str, float]:
    """List the job, download its large attachment into a fresh store; the figures."""
    client = backend.attachments
    assert client is not None
    started = time.perf_counter()
    info = max(client.list(job_id), key=lambda a: a.id)
    listed = time.perf_counter() - started
    store = BlobStore(folder / name)
    rss_before = max_rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    got = download(client, info, store, DownloadPolicy())
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size_mb = got.size / 1024 / 1024
    return {
        "list_s": listed,
        "download_s": seconds,
        "mb": size_mb,
        "mb_per_s": size_mb / seconds,
        "tracemalloc_peak_mb": peak / 1024 / 1024,
        "rss_growth_mb": max_rss_mb() - rss_before,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the attachment in MiB")
    args = parser.parse_args(argv)
    config = SandboxConfig(customers=20, rate_limit=0, large_attachment_mb=args.mb)
    server = SandboxProcess(config).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            from_backends = backends(server.base_url, folder / "tokens")
            job = first_job(from_backends["session"])
            print(
                "| backend | MiB | list s | download s | MiB/s | tracemalloc peak MiB | peak RSS growth MiB |"
            )
            print("|---|---|---|---|---|---|---|")
            for name, backend in from_backends.items():
                r = measure(name, backend, job, folder)
                print(
                    f"| {name} | {r['mb']:.0f} | {r['list_s']:.2f} | {r['download_s']:.2f} | "
                    f"{r['mb_per_s']:.0f} | {r['tracemalloc_peak_mb']:.1f} | {r['rss_growth_mb']:.1f} |"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
