"""Opt-in coercion: what is converted, what is listed, what is left for validation."""

from receiver.actions.coercion import coerce

SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "active": {"type": "boolean"},
        "code": {"type": "string"},
        "flag": {"type": "string"},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "customer": {"type": "object", "properties": {"age": {"type": "integer"}}},
    },
}


def test_each_conversion_the_schema_asks_for_is_applied_and_listed() -> None:
    value, applied = coerce(
        SCHEMA,
        {
            "count": "12",
            "ratio": "0.5",
            "active": "TRUE",
            "code": 4711,
            "flag": False,
            "ids": "7",
            "customer": {"age": " 42 "},
        },
    )
    assert value == {
        "count": 12,
        "ratio": 0.5,
        "active": True,
        "code": "4711",
        "flag": "false",
        "ids": [7],
        "customer": {"age": 42},
    }
    assert {(c["field"], c["from"], c["to"]) for c in applied} == {
        ("count", "string", "integer"),
        ("ratio", "string", "number"),
        ("active", "string", "boolean"),
        ("code", "integer", "string"),
        ("flag", "boolean", "string"),
        ("ids", "string", "array"),
        ("ids/0", "string", "integer"),
        ("customer/age", "string", "integer"),
    }
    assert next(c for c in applied if c["field"] == "count")["value"] == "12"


def test_values_already_right_or_not_convertible_are_left_alone() -> None:
    given = {"count": "twelve", "ratio": 3, "active": "maybe", "other": "x"}
    value, applied = coerce(SCHEMA, given)
    assert value == given
    assert applied == []
