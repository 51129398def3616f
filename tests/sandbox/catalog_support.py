"""Helpers for the catalog stream tests: the query each official read path needs."""

from __future__ import annotations

from typing import Any

from st_contract.catalog import Stream

WIDE_RANGE = {"fromUtc": "2000-01-01T00:00:00Z", "toUtc": "2100-01-01T00:00:00Z"}


def list_params(stream: Stream, **extra: Any) -> dict[str, Any]:
    """A list or unpaged request's parameters: every record (``active=Any`` where the
    stream filters on it), its fixed parameters and a range wide enough for all."""
    params: dict[str, Any] = dict(stream.fixed_params)
    if "active" in stream.list_params:
        params["active"] = "Any"
    for name in stream.range_params:
        params[name] = WIDE_RANGE.get(name, "2000-01-01")
    params.update(extra)
    return params


def url(stream: Stream, path: str) -> str:
    """The sandbox tenant's URL of a catalog path (a version first goes before the tenant)."""
    from st_sandbox.v2.oauth import SANDBOX_TENANT_ID

    return stream.url(SANDBOX_TENANT_ID, path)


def errors(stream: Stream, path: str, body: Any) -> list[str]:
    """Every way ``body`` breaks the official 200 response schema of a catalog path."""
    from st_contract.catalog import path_template
    from tests.sandbox.v2_support import _validator, spec

    route = path_template(path)
    operation = spec(stream.prefix)["paths"][route]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = _validator(stream.prefix, schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ][:10]
