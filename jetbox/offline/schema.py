"""`format` for the offline server: a reply that satisfies "json" or a JSON schema, the way
Ollama's constrained decoding guarantees one."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 8  # a recursive schema ($ref to itself) still ends


def example(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value that satisfies `schema`: every property filled, the first enum, the first
    branch of anyOf/oneOf, arrays with their minimum number of items."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    defs = {**(defs or {}), **schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        return example(defs.get(str(schema["$ref"]).rsplit("/", 1)[-1]), defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example(schema[key][0], defs, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _typed(kind, schema, defs, depth)


def _typed(kind: str, schema: dict[str, Any], defs: dict[str, Any], depth: int) -> Any:
    if kind == "object":
        return {name: example(sub, defs, depth + 1)
                for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        count = int(schema.get("minItems", 0) or 0)
        return [example(schema.get("items", {}), defs, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low + 1 if "exclusiveMinimum" in schema and "minimum" not in schema else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "x" * int(schema.get("minLength", 0) or 0) or "text"


def fits(value: Any, schema: Any) -> bool:
    """A shallow check: the right top-level type and every required key present. Deep
    mismatches are the script author's to avoid; the server replaces what fails this."""
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        return isinstance(value, dict) and all(k in value for k in schema.get("required", []))
    if kind == "array":
        return isinstance(value, list)
    return True


def formatted(content: str, format_: Any) -> str:
    """`content` when it already satisfies the request's format, else a JSON value that does
    (for "json": the text wrapped as {"response": ...})."""
    if not format_:
        return content
    try:
        value = json.loads(content)
    except ValueError:
        value = _MISSING
    if format_ == "json" or not isinstance(format_, dict):
        return content if value is not _MISSING else json.dumps({"response": content})
    if value is not _MISSING and fits(value, format_):
        return content
    return json.dumps(example(format_))


_MISSING = object()
