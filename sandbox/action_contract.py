"""An action's contract as Genesys serves it (genesys-api.md §16.C.2): schemas, files, flattening.

``GET …/{actionId}?expand=contract`` returns ``inputSchema`` and ``successSchema`` whole
(draft-04 documents, as created); the ``…Uri`` fields name the same documents under
``…/{actionId}/schemas/{fileName}`` (the file names are the sandbox's: Genesys' own are
UNCONFIRMED, so clients must take them from the URIs). With ``flatten=true`` only the
``…Flattened`` variants come back, in Architect's flattened form: nested object
properties become ``parent.child`` names.

Input is checked with a real JSON Schema validator (draft-04 unless the schema names
another ``$schema``), every problem at once, each with its field path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for

from sandbox.errors import NotFound

_FILES = {"input": "inputSchema", "success": "successSchema", "error": "errorSchema"}


@dataclass(frozen=True)
class InputProblem:
    """One way an input breaks the input schema: where (dotted path) and what."""

    field: str
    message: str


def schema_file_name(action_id: str, part: str) -> str:
    """The file name ``…/schemas/{fileName}`` serves for ``part`` (input, success, error)."""
    return f"{action_id}.{part}.json"


def schema_uri(action_id: str, part: str) -> str:
    return f"/api/v2/integrations/actions/{action_id}/schemas/{schema_file_name(action_id, part)}"


def schema_document(action_id: str, contract: Mapping[str, Any], file_name: str) -> dict[str, Any]:
    """The ``JsonSchemaDocument`` behind ``file_name``; 404 for a name the action lacks."""
    for part, key in _FILES.items():
        if file_name == schema_file_name(action_id, part):
            side = contract.get("input" if part == "input" else "output") or {}
            schema = side.get(key)
            if isinstance(schema, dict):
                return schema
    raise NotFound(f"Schema file {file_name} was not found for action {action_id}.")


ContractView = Literal["stored", "uris", "expanded"]


def contract_json(
    action_id: str, contract: Mapping[str, Any], *, view: ContractView, flatten: bool = False
) -> dict[str, Any]:
    """The ``ActionContract`` of an ``Action`` document.

    ``expanded`` (``expand=contract``): the schemas, whole or (``flatten``) flattened,
    with their ``…Uri``s; ``uris``: only the URIs (what Genesys is expected to send
    without ``expand``, :attr:`~sandbox.config.SandboxConfig.contract_needs_expand`);
    ``stored``: the contract as it was created (the lenient default without ``expand``).
    """
    if view == "stored":
        return dict(contract)
    input_side: dict[str, Any] = {"inputSchemaUri": schema_uri(action_id, "input")}
    output_side: dict[str, Any] = {"successSchemaUri": schema_uri(action_id, "success")}
    source_out = contract.get("output") or {}
    if isinstance(source_out.get("errorSchema"), dict):
        output_side["errorSchemaUri"] = schema_uri(action_id, "error")
    if view == "uris":
        return {"input": input_side, "output": output_side}
    documents = {
        part: schema
        for part, schema in (
            ("input", (contract.get("input") or {}).get("inputSchema")),
            ("success", source_out.get("successSchema")),
            ("error", source_out.get("errorSchema")),
        )
        if isinstance(schema, dict)
    }
    if flatten:
        if "input" in documents:
            input_side["inputSchemaFlattened"] = flattened_schema(documents["input"])
        for part in ("success", "error"):
            if part in documents:
                output_side[f"{part}SchemaFlattened"] = {
                    "schema": flattened_schema(documents[part]),
                    "arrayProperties": sorted(_array_properties(documents[part])),
                }
    else:
        if "input" in documents:
            input_side["inputSchema"] = documents["input"]
        for part in ("success", "error"):
            if part in documents:
                output_side[f"{part}Schema"] = documents[part]
    return {"input": input_side, "output": output_side}


def flattened_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Nested object properties lifted to the top as ``parent.child`` (Architect's form)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec, is_required in _leaves(schema, ""):
        properties[name] = spec
        if is_required:
            required.append(name)
    document = {key: value for key, value in schema.items() if key not in {"properties"}}
    document["properties"] = properties
    if required:
        document["required"] = required
    else:
        document.pop("required", None)
    return document


def flattened_value(value: Any, prefix: str = "") -> Any:
    """An output object in the flattened form (``{"a": {"b": 1}}`` → ``{"a.b": 1}``)."""
    if not isinstance(value, Mapping):
        return value
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(flattened_value(item, f"{name}."))
        else:
            flat[name] = item
    return flat


def _leaves(schema: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any, bool]]:
    required = schema.get("required")
    names = set(required) if isinstance(required, list) else set()
    properties = schema.get("properties")
    for name, spec in (properties if isinstance(properties, Mapping) else {}).items():
        full = f"{prefix}{name}"
        if isinstance(spec, Mapping) and spec.get("type") == "object" and spec.get("properties"):
            for leaf, leaf_spec, leaf_required in _leaves(spec, f"{full}."):
                yield leaf, leaf_spec, leaf_required and name in names
        else:
            yield full, spec, name in names


def _array_properties(schema: Mapping[str, Any]) -> Iterator[str]:
    for name, spec, _ in _leaves(schema, ""):
        if isinstance(spec, Mapping) and spec.get("type") == "array":
            yield name


def schema_problems(schema: Mapping[str, Any], values: Any) -> list[InputProblem]:
    """Every way ``values`` breaks ``schema``, ordered by field path."""
    cls = validator_for(schema, default=Draft4Validator)
    validator = cls(schema)
    found = [
        InputProblem(field, error.message)
        for error in validator.iter_errors(values)
        for field in _fields(error)
    ]
    return sorted(found, key=lambda p: (p.field, p.message))


def _fields(error: ValidationError) -> list[str]:
    """The field paths one error is about (an unexpected property names each extra one)."""
    path = _field(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        declared = error.schema.get("properties") if isinstance(error.schema, Mapping) else None
        known = set(declared) if isinstance(declared, Mapping) else set()
        extras = sorted(str(name) for name in error.instance if name not in known)
        if extras:
            return [f"{path}.{name}" if path else name for name in extras]
    return [path]


def _field(error: ValidationError) -> str:
    path = ""
    for step in error.absolute_path:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
    if error.validator == "required" and isinstance(error.instance, Mapping):
        # The missing property is named in the message only; make it the field.
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        if missing:
            path = f"{path}.{missing}" if path else missing
    return path
