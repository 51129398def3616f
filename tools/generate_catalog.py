"""Generate the stream catalog (``st_contract/catalog/streams.json``) from the official
ServiceTitan v2 OpenAPI specs.

Run it again when ServiceTitan publishes new specs; ``git diff`` on the JSON then shows
every stream, field, type and enum that changed::

    python -m tools.generate_catalog [--specs ../shared/servicetitan-openapi] [--check]

A stream is one resource of a tenant: every export endpoint, and every tenant-level
collection GET that holds business data. An export and the list of the same resource
are one stream (read through the export, listed through the list). What is left out,
and why, is in ``EXCLUDED`` (written to the catalog too, and to docs/catalog.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.spec_schemas import Schemas

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPECS = ROOT.parent / "shared" / "servicetitan-openapi"
OUTPUT = ROOT / "st_contract" / "catalog" / "streams.json"
DOC = ROOT / "docs" / "catalog.md"

# The hand-written models (st_contract.models) of the core entities, by (prefix, list path).
CORE = {
    ("/crm/v2", "customers"): ("customers", "/customers"),
    ("/crm/v2", "locations"): ("locations", "/locations"),
    ("/crm/v2", "customers/contacts"): ("contacts", "/contacts"),
    ("/settings/v2", "business-units"): ("business_units", "/business-units"),
    ("/settings/v2", "technicians"): ("technicians", "/technicians"),
    ("/jpm/v2", "job-types"): ("job_types", "/job-types"),
    ("/jpm/v2", "jobs"): ("jobs", "/jobs"),
    ("/jpm/v2", "appointments"): ("appointments", "/appointments"),
    ("/accounting/v2", "tax-zones"): ("tax_zones", "/tax-zones"),
    ("/accounting/v2", "invoices"): ("invoices", "/invoices"),
    ("/accounting/v2", "payments"): ("payments", "/payments"),
    ("/memberships/v2", "membership-types"): ("membership_types", "/membership-types"),
    ("/memberships/v2", "memberships"): ("memberships", "/memberships"),
    ("/memberships/v2", "recurring-service-events"): (
        "recurring_service_events",
        "/recurring-service-events",
    ),
    ("/equipmentsystems/v2", "installed-equipment"): (
        "installed_equipment",
        "/equipment",
    ),
    ("/pricebook/v2", "categories"): ("pricebook_categories", "/pricebook/categories"),
    ("/pricebook/v2", "services"): ("pricebook_services", "/pricebook/services"),
    ("/pricebook/v2", "materials"): ("pricebook_materials", "/pricebook/materials"),
    ("/pricebook/v2", "equipment"): ("pricebook_equipment", "/pricebook/equipment"),
    ("/sales/v2", "estimates"): ("estimates", "/estimates"),
}

# The core reference sets, landed whole since the first release.
CORE_SETUP = frozenset(
    {
        "business_units",
        "technicians",
        "job_types",
        "tax_zones",
        "membership_types",
        "pricebook_categories",
        "pricebook_services",
        "pricebook_materials",
        "pricebook_equipment",
    }
)

# Exports whose resource's list lives under another path.
EXPORT_LIST = {
    ("/accounting/v2", "inventory-bills"): "inventory-bills/paginated",
    ("/telecom", "calls"): "v2/calls",
}
# A second export of a resource that already has one: served, read through the first.
ALIAS_EXPORTS = {("/sales/v2", "estimates/export"): "estimates"}

# Collection GETs that are not streams, and why (a path prefix of the list path).
EXCLUDED: dict[tuple[str, str], str] = {
    ("/accounting/v2", "inventory-bills"): "the same bills as inventory-bills/paginated, unpaged",
    ("/dispatch/v2", "technician-tracking"): "needs a technician and an appointment",
    ("/equipmentsystems/v2", "installed-equipment/attachments"): "a file download",
    ("/findings/v2", "assets"): "a file download",
    ("/pricebook/v2", "images"): "a file download",
    ("/jpm/v2", "work-breakdown-structure/budget-codes/match"): "a lookup by codes",
    ("/jpm/v2", "jobs/hold-reasons"): "needs job ids; the reasons are job-hold-reasons",
    ("/jpm/v2", "jobs/cancel-reasons"): "needs job ids; the reasons are job-cancel-reasons",
    ("/marketingads/v2", "capacity-warnings"): "a live warning, not a collection",
    ("/marketing/v2", "campaign-cost-summary"): "sums of marketing_costs over a date range",
    ("/marketing/v2", "email-channel-cost"): "sums of e-mail costs over a date range",
    ("/memberships/v2", "invoice-templates"): "needs ids; read through its export",
    ("/taskmanagement/v2", "data"): "the task form's lookup lists, not a collection",
    ("/telecom", "v3/calls"): "the same calls in v3's shape; read with every field by v2's export",
}


# The business's own setup (types, codes, reasons, templates, custom-field types, tags,
# campaigns, vendors, employees...): small, rarely changed, and needed whole by every
# model, so it lands whole (as the core reference sets do) even with a modification
# cursor. Partitions of modifiedOn would miss whatever was last changed before the
# deployment's first partition.
SETUP = re.compile(
    r"(custom-fields|types|categories|codes|reasons|statuses|substatuses|templates|"
    r"settings|markups|zones|teams|skills|vendors|warehouses|trucks|campaigns|tags|"
    r"payment-terms|gl-accounts|employees|schedulers|forms|discounts-and-fees)$"
)


def _module(prefix: str) -> str:
    return prefix.strip("/").split("/")[0].replace("-", "_")


def _snake(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _collection_gets(document: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Tenant-level GETs (no path parameter but the tenant), by path after the tenant."""
    found = {}
    for path, operations in document["paths"].items():
        if "get" not in operations or re.findall(r"\{(\w+)\}", path) != ["tenant"]:
            continue
        head, _, rest = path.partition("/tenant/{tenant}/")
        found[f"{head.strip('/')}/{rest}".strip("/")] = operations["get"]
    return found


def _items(
    schemas: Schemas, operation: dict[str, Any]
) -> tuple[dict[str, Any], str, str | None] | None:
    """A collection's item schema, how it is paged (``export``, ``list``: numbered pages,
    ``unpaged``: one answer) and where its items are in the answer (``data``, ``items``;
    None: the answer is the list itself, ``""``: the answer is the one record)."""
    content: dict[str, Any] = operation["responses"].get("200", {}).get("content", {})
    answer: dict[str, Any] = next(iter(content.values()), {})
    if "schema" not in answer:
        return None
    envelope, _ = schemas.resolve(answer["schema"])
    if envelope.get("type") == "array":
        items, _ = schemas.resolve(envelope.get("items", {}))
        return (items, "unpaged", None) if items.get("properties") else None
    props = envelope.get("properties", {})
    if "data" in props and "continueFrom" in props:
        return schemas.resolve(props["data"].get("items", {}))[0], "export", "data"
    if "data" in props and "hasMore" in props:
        return schemas.resolve(props["data"].get("items", {}))[0], "list", "data"
    arrays = [k for k, v in props.items() if schemas.resolve(v)[0].get("type") == "array"]
    if len(props) == 1 and arrays:
        items, _ = schemas.resolve(props[arrays[0]].get("items", {}))
        return (items, "unpaged", arrays[0]) if items.get("properties") else None
    return (envelope, "unpaged", "") if props else None


def _query(
    schemas: Schemas, operation: dict[str, Any]
) -> tuple[list[str], dict[str, str], list[str]]:
    """An operation's query parameters, fixed values for the required ones that are not
    paging, and the required date range (``[from, to]``), filled in when read."""
    names, fixed, dates = [], {}, []
    for param in operation.get("parameters", []):
        if param.get("in") != "query":
            continue
        names.append(param["name"])
        if not param.get("required") or param["name"] in (
            "page",
            "pageSize",
            "includeTotal",
            "ids",
        ):
            continue
        schema, _ = schemas.resolve(param.get("schema", {}))
        if schema.get("format") == "date-time":
            dates.append(param["name"])
            continue
        enum = schema.get("enum") or []
        default = schema.get("default", enum[0] if enum else None)
        fixed[param["name"]] = "false" if default is None else str(default).lower()
    return sorted(names), fixed, dates


def _scope(operation: dict[str, Any]) -> str | None:
    for requirement in operation.get("security", []):
        for scopes in requirement.values():
            if scopes:
                return str(scopes[0])
    return None


def _describe(operation: dict[str, Any]) -> str:
    text = (operation.get("description") or operation.get("summary") or "").strip()
    return text.splitlines()[0] if text else ""


def _is_export(path: str) -> bool:
    return path.startswith("export/") or "/export/" in path or path.endswith("/export")


def module_streams(file: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, str]]]:
    """A spec's module, its streams and the collection GETs left out (with why)."""
    document = json.loads(file.read_text())
    prefix = urlsplit(document["servers"][0]["url"]).path.rstrip("/")
    module = _module(prefix)
    schemas = Schemas(document)
    gets = _collection_gets(document, prefix)
    exports = {p: op for p, op in gets.items() if _is_export(p)}
    lists = {p: op for p, op in gets.items() if p not in exports}
    streams, left_out = [], []
    claimed: set[str] = set()
    for path, operation in sorted(exports.items()):
        if (prefix, path) in ALIAS_EXPORTS:
            continue
        # Telecom's versions are in the path (v2/export/calls): the resource drops them.
        resource = re.sub(r"^(v\d+/)?export/", "", path)
        list_path = EXPORT_LIST.get((prefix, resource), resource)
        list_op = lists.get(list_path)
        if list_op is not None:
            claimed.add(list_path)
        where = Where(prefix, module, resource, list_path if list_op else None, path)
        stream = _stream(schemas, where, operation, list_op)
        stream["alias_exports"] = sorted(
            p for (pre, p), target in ALIAS_EXPORTS.items() if pre == prefix and target == resource
        )
        streams.append(stream)
    for path, operation in sorted(lists.items()):
        if path in claimed or (prefix, path) in EXCLUDED:
            if path not in claimed:
                left_out.append({"module": module, "path": path, "why": EXCLUDED[(prefix, path)]})
            continue
        if _items(schemas, operation) is None:
            left_out.append({"module": module, "path": path, "why": "no records in its answer"})
            continue
        resource = re.sub(r"^v\d+/", "", path)
        streams.append(
            _stream(schemas, Where(prefix, module, resource, path, None), None, operation)
        )
    info = {
        "prefix": prefix,
        "title": document.get("info", {}).get("title", module),
        "spec": file.name,
        "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
    }
    return info, streams, left_out


@dataclass(frozen=True)
class Where:
    """Where a stream is: its module, resource and list and export paths."""

    prefix: str
    module: str
    resource: str
    list_path: str | None
    export_path: str | None


def _stream(
    schemas: Schemas,
    where: Where,
    export_op: dict[str, Any] | None,
    list_op: dict[str, Any] | None,
) -> dict[str, Any]:
    read_op = export_op or list_op
    assert read_op is not None
    found = _items(schemas, read_op)
    assert found is not None, f"{where.prefix}/{where.export_path or where.list_path}: no items"
    item, read, items_key = found
    fields = schemas.fields(item, ())
    names = {f["name"] for f in fields}
    params, fixed, dates = _query(schemas, list_op) if list_op is not None else ([], {}, [])
    core = CORE.get((where.prefix, where.list_path or where.resource))
    name = core[0] if core else _snake(f"{where.module}_{where.resource.replace('/', '_')}")
    cursor = (
        "modifiedOn"
        if "modifiedOn" in names and (read == "export" or "modifiedOnOrAfter" in params)
        else None
    )
    setup = bool(core and core[0] in CORE_SETUP) or bool(SETUP.search(where.resource))
    return {
        "name": name,
        "module": where.module,
        "prefix": where.prefix,
        "session_path": core[1] if core else f"/{where.module}/{where.resource}",
        "list_path": where.list_path,
        "export_path": where.export_path,
        "read": read,
        "items_key": items_key,
        "list_params": params,
        "fixed_params": fixed,
        "range_params": dates,
        "key": "id" if "id" in names else None,
        "cursor": cursor,
        "setup": setup,
        "core": core is not None,
        "scope": _scope(read_op),
        "description": _describe(list_op or read_op),
        "fields": fields,
    }


def build(spec_dir: Path) -> dict[str, Any]:
    """The whole catalog, from every spec file in ``spec_dir``."""
    files = sorted(spec_dir.glob("*.json"))
    if not files:
        raise SystemExit(f"no spec files in {spec_dir}: pass --specs DIR")
    modules, streams, excluded = {}, [], []
    for file in files:
        info, found, left_out = module_streams(file)
        modules[_module(info["prefix"])] = info
        streams += found
        excluded += left_out
    names = [s["name"] for s in streams]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SystemExit(f"two streams share a name: {dupes}")
    return {
        "generator": "python -m tools.generate_catalog",
        "modules": modules,
        "streams": sorted(streams, key=lambda s: (s["module"], s["name"])),
        "excluded": excluded,
    }


def render(catalog: dict[str, Any]) -> str:
    """The catalog as stable JSON text (a re-run with the same specs changes nothing)."""
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_doc(catalog: dict[str, Any]) -> str:
    """docs/catalog.md: the streams per module and the collection GETs left out, with why."""
    streams = catalog["streams"]
    exports = sum(bool(s["export_path"]) + len(s.get("alias_exports", [])) for s in streams)
    lines = [
        "# The stream catalog",
        "",
        "Generated by `python -m tools.generate_catalog` from the official specs "
        "(`../shared/servicetitan-openapi/`); do not edit. "
        f"{len(streams)} streams over {len(catalog['modules'])} modules, "
        f"{sum(1 for s in streams if s['cursor'] and not s['setup'])} partitioned by "
        "`modifiedOn` (the others, and the business's setup, land whole), "
        f"{exports} export endpoints.",
        "",
        "| module | prefix | streams | exports | partitioned | streams |",
        "|---|---|---:|---:|---:|---|",
    ]
    for module, info in sorted(catalog["modules"].items()):
        own = [s for s in streams if s["module"] == module]
        lines.append(
            f"| {module} | `{info['prefix']}` | {len(own)} | "
            f"{sum(bool(s['export_path']) + len(s.get('alias_exports', [])) for s in own)} | "
            f"{sum(1 for s in own if s['cursor'] and not s['setup'])} | "
            + ", ".join(f"`{s['name']}`" for s in own)
            + " |"
        )
    lines += [
        "",
        "## Collection GETs left out",
        "",
        "| module | path | why |",
        "|---|---|---|",
        *(f"| {e['module']} | `{e['path']}` | {e['why']} |" for e in catalog["excluded"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the catalog, or with ``--check`` fail when it is not what the specs say."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)
    catalog = build(args.specs)
    outputs = {args.output: render(catalog), DOC: render_doc(catalog)}
    if args.check:
        stale = [str(p) for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(
                f"stale: {', '.join(stale)}: run python -m tools.generate_catalog", file=sys.stderr
            )
            return 1
        return 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    text = outputs[args.output]
    catalog = json.loads(text)
    print(
        f"{len(catalog['streams'])} streams over {len(catalog['modules'])} modules -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
