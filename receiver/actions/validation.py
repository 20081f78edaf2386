"""Inputs and outputs checked against an action's contract with a JSON Schema validator.

Genesys contracts are draft-04 style; a contract naming another draft in ``$schema`` is
checked by that draft's rules. Every problem is reported, each with its field path
(``customer/ids/0``; the missing field itself for ``required``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

Problem = dict[str, str]


def problems(schema: dict[str, Any], value: Any) -> list[Problem]:
    """Every way ``value`` breaks ``schema``, in document order; ``[]`` when it fits.

    An empty schema accepts anything. A schema that is itself invalid is reported as
    one problem at the root rather than trusted.
    """
    if not schema:
        return []
    checker = _validator(schema)
    if isinstance(checker, str):
        return [{"field": "", "problem": f"the action's contract is not a valid schema: {checker}"}]
    found = [found for error in checker.iter_errors(value) for found in _problems(error)]
    return sorted(found, key=lambda problem: problem["field"])


#: Validators of the contracts seen lately, by the identity of the schema object (the
#: catalog keeps one per action version): checking a schema and building its validator
#: cost more than validating an input.
_VALIDATORS: OrderedDict[int, tuple[dict[str, Any], Any]] = OrderedDict()
_KEPT = 256


def _validator(schema: dict[str, Any]) -> Any:
    """The schema's validator, or what is wrong with the schema itself."""
    kept = _VALIDATORS.get(id(schema))
    if kept is not None and kept[0] is schema:
        _VALIDATORS.move_to_end(id(schema))
        return kept[1]
    kind = validators.validator_for(schema, default=Draft4Validator)
    try:
        kind.check_schema(schema)
        checker: Any = kind(schema)
    except SchemaError as exc:
        checker = exc.message
    _VALIDATORS[id(schema)] = (schema, checker)
    while len(_VALIDATORS) > _KEPT:
        _VALIDATORS.popitem(last=False)
    return checker


def _problems(error: ValidationError) -> list[Problem]:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # One problem per unexpected field, named by its own path.
        schema = error.schema if isinstance(error.schema, dict) else {}
        declared = schema.get("properties") or {}
        patterns = list((schema.get("patternProperties") or {}).keys())
        extra = [
            name
            for name in error.instance
            if name not in declared and not any(re.search(p, name) for p in patterns)
        ]
        if extra:
            return [
                {"field": "/".join([*path, name]), "problem": "is not allowed by the schema"}
                for name in extra
            ]
    return [_problem(error, path)]


def _problem(error: ValidationError, path: list[str]) -> Problem:
    names = error.validator_value
    if (
        error.validator == "required"
        and isinstance(error.instance, dict)
        and isinstance(names, list)
    ):
        missing = [
            name for name in names if name not in error.instance and repr(name) in error.message
        ]
        if missing:
            return {"field": "/".join([*path, missing[0]]), "problem": "is required"}
    return {"field": "/".join(path), "problem": error.message}
