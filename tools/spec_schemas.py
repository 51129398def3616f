"""An OpenAPI spec's component schemas as the catalog's field trees: ``$ref``, one-branch
``oneOf``/``anyOf``, ``allOf`` merged, nullable types, and a recursive schema cut to JSON
text past ``MAX_DEPTH`` (``tools/generate_catalog.py`` uses it)."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 4


class Schemas:
    """One spec's component schemas, resolved into the catalog's field trees."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The schema a ``$ref`` (or a one-branch ``oneOf``/``allOf``) stands for."""
        name = None
        while True:
            if "$ref" in schema:
                name = schema["$ref"].split("/")[-1]
                schema = {
                    **self.components[name],
                    **{k: v for k, v in schema.items() if k != "$ref"},
                }
                continue
            for key in ("oneOf", "anyOf", "allOf"):
                branches = [b for b in schema.get(key, []) if b.get("type") != "null"]
                if key == "allOf" and len(branches) > 1:
                    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
                    for branch in branches:
                        part, _ = self.resolve(branch)
                        merged["properties"].update(part.get("properties", {}))
                        merged["required"] += part.get("required", [])
                    return merged, name
                if len(branches) == 1:
                    rest = {k: v for k, v in schema.items() if k != key}
                    schema = {**rest, **branches[0]}
                    break
            else:
                return schema, name

    def node(self, schema: dict[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        """The catalog type of ``schema``: ``{"type": ..., "nullable": ...}`` and, for
        structs, lists and enums, their fields, items and values."""
        nullable = _nullable(schema)
        resolved, name = self.resolve(schema)
        nullable = nullable or _nullable(resolved)
        if (name is not None and name in stack) or len(stack) > MAX_DEPTH:
            return {"type": "json", "nullable": True}
        inner = (*stack, name) if name else stack
        kinds = [t for t in _types(resolved) if t != "null"]
        if len(kinds) != 1 or resolved.get("oneOf") or resolved.get("anyOf"):
            if "enum" in resolved and not kinds:
                kinds = ["string"]
            elif "properties" in resolved and not kinds:
                kinds = ["object"]
            elif len(kinds) != 1:
                return {"type": "json", "nullable": True}
        kind, fmt = kinds[0], resolved.get("format")
        out: dict[str, Any]
        if kind == "object":
            props = resolved.get("properties")
            if not props:
                return {"type": "json", "nullable": True}
            out = {"type": "struct", "fields": self.fields(resolved, inner)}
        elif kind == "array":
            out = {"type": "list", "items": self.node(resolved.get("items", {}), inner)}
        else:
            out = {"type": _scalar(kind, fmt)}
            if "enum" in resolved:
                out["enum"] = [v for v in resolved["enum"] if v is not None]
        out["nullable"] = nullable
        return out

    def fields(self, schema: dict[str, Any], stack: tuple[str, ...]) -> list[dict[str, Any]]:
        """The properties of an object schema, in the spec's order."""
        required = set(schema.get("required", []))
        out = []
        for prop, sub in schema.get("properties", {}).items():
            node = self.node(sub, stack)
            node["nullable"] = node["nullable"] or prop not in required
            out.append({"name": prop, **node})
        return out


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return list(kind) if isinstance(kind, list) else [kind]


def _nullable(schema: dict[str, Any]) -> bool:
    return bool(
        "null" in _types(schema)
        or schema.get("nullable")
        or any(b.get("type") == "null" for b in schema.get("oneOf", []))
    )


def _scalar(kind: str, fmt: str | None) -> str:
    if kind == "integer":
        return "int64"
    if kind == "number":
        return "decimal" if fmt == "decimal" else "float64"
    if kind == "boolean":
        return "bool"
    if kind == "string" and fmt == "date-time":
        return "timestamp"
    if kind == "string" and fmt == "date":
        return "date"
    return "string"
