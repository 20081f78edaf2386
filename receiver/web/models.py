"""Wire models: each shape the API reads or writes, declared once as a pydantic model.

A model validates what arrives, renders what leaves (camelCase, ISO-8601 UTC) and is
the OpenAPI schema of both: :mod:`receiver.web.openapi` turns a model class used in an
operation into a component. Responses are built from stored rows with
``model_construct`` (the rows are already valid) and rendered by :func:`render`, so a
page of a thousand events costs milliseconds, not an ORM round trip per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema

JSON = dict[str, Any]


def timestamp(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, the one timestamp format of the API."""
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


#: A timestamp as the API writes it: ``2026-03-02T10:15:00.120000Z``.
Timestamp = Annotated[
    datetime,
    PlainSerializer(timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def raw_json(description: str, *, nullable: bool = False) -> Any:
    """A JSON object kept as stored text (an ``orjson.Fragment``): written out unparsed."""
    kind: JsonValue = ["object", "null"] if nullable else "object"
    return WithJsonSchema({"type": kind, "description": description})


def one_of(values: Iterable[str], description: str = "", *, nullable: bool = False) -> Any:
    """A field whose value is one of ``values`` (or null when ``nullable``)."""
    allowed: list[JsonValue] = list(values)
    if nullable:
        allowed.append(None)
    return Field(description=description, json_schema_extra={"enum": allowed})


class WireModel(BaseModel):
    """Base of every wire model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        frozen=True,
    )


class RequestModel(WireModel):
    """A model of what a client sends: its schema is the one of what is accepted."""


def render(model: BaseModel) -> JSON:
    """A model as the API writes it (orjson then encodes the result)."""
    return model.model_dump(by_alias=True)


def problems_of(error: ValidationError, model: type[BaseModel]) -> list[dict[str, str]]:
    """Every problem pydantic found, as the API reports them: the field, in words."""
    aliases = {name: info.alias or name for name, info in model.model_fields.items()}
    problems = []
    for found in error.errors():
        where = [aliases.get(str(part), str(part)) for part in found["loc"]]
        field = ".".join(where) or "body"
        problems.append({"field": field, "problem": _in_words(found, aliases)})
    return problems


def _in_words(found: Any, aliases: dict[str, str]) -> str:
    kind, context, given = found["type"], found.get("ctx") or {}, found.get("input")
    if kind == "missing" or ((given is None or given == "") and kind in _ABSENT):
        return "is required"
    if kind == "extra_forbidden":
        return f"unknown field; allowed: {', '.join(sorted(aliases.values()))}"
    if kind == "string_pattern_mismatch":
        return "must not contain NUL characters (\\u0000)"
    if kind == "string_too_long" and isinstance(given, str):
        most = context.get("max_length")
        return f"is {len(given)} characters long; at most {most} allowed"
    if kind in ("string_type", "int_type", "dict_type", "bool_type"):
        wanted = {"string_type": "a string", "int_type": "a whole number"}
        shown = wanted.get(kind, "an object" if kind == "dict_type" else "true or false")
        return f"must be {shown}"
    if kind in ("greater_than_equal", "less_than_equal", "int_from_float"):
        return f"is out of range: {found['msg'].lower()}"
    return str(found["msg"])


# A required text that is null or empty is as good as absent.
_ABSENT = frozenset({"string_type", "string_too_short"})


class _Schema(GenerateJsonSchema):
    """JSON Schema without the titles pydantic derives from field names (noise)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


REF_TEMPLATE = "#/components/schemas/{model}"


def json_schema(model: type[BaseModel], *, reading: bool = False) -> tuple[JSON, JSON]:
    """The model's schema and the schemas of the models it refers to (by name).

    ``reading`` gives the schema of what the API accepts (request bodies), else of
    what it writes.
    """
    schema = model.model_json_schema(
        by_alias=True,
        ref_template=REF_TEMPLATE,
        schema_generator=_Schema,
        mode="validation" if reading else "serialization",
    )
    schema.pop("title", None)
    definitions = schema.pop("$defs", {})
    for definition in definitions.values():
        definition.pop("title", None)
    return schema, definitions
