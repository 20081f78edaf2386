"""Inputs and outputs against a contract: every problem, each with its field path."""

from receiver.actions.validation import problems

CONTRACT = {
    "type": "object",
    "required": ["accountId", "items"],
    "properties": {
        "accountId": {"type": "string", "pattern": "^[A-Z]-[0-9]+$"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"qty": {"type": "integer", "minimum": 1}},
            },
        },
        "mode": {"type": "string", "enum": ["fast", "full"]},
    },
    "additionalProperties": False,
}


def test_every_problem_is_reported_at_once_with_its_field_path() -> None:
    found = problems(CONTRACT, {"accountId": "x", "items": [{"qty": 0}], "mode": "slow", "z": 1})
    assert [problem["field"] for problem in found] == [
        "accountId",
        "items/0/qty",
        "items/0/sku",
        "mode",
        "z",
    ]
    assert {"field": "items/0/sku", "problem": "is required"} in found
    assert {"field": "z", "problem": "is not allowed by the schema"} in found


def test_an_input_that_fits_has_no_problem_and_an_empty_schema_takes_anything() -> None:
    assert problems(CONTRACT, {"accountId": "A-1", "items": [{"sku": "s", "qty": 2}]}) == []
    assert problems({}, ["anything"]) == []


def test_a_contract_that_is_not_a_valid_schema_is_one_problem_not_trusted() -> None:
    [problem] = problems({"type": "object", "required": "accountId"}, {})
    assert problem["field"] == ""
    assert "not a valid schema" in problem["problem"]
