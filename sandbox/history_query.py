"""``CriteriaQuery`` for ``POST /api/v2/flows/instances/query`` (genesys-api.md §5.2, §16.B).

``{"query": [CriteriaGroup, …]}``: the groups are ANDed; a group holds ``criteria`` (one
item), ``and`` (all of them), ``or`` (any of them) and/or ``not`` (none of them). An item
is ``{key, operator, value}``. A key with several values in one instance (the action
keys: one value per visited node) matches when any value does; ``not`` matches when
none equals. Keys the sandbox has no data for (work items, bots, warnings, alternate
ids) have no value: only ``not`` matches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.errors import BadRequest

#: ``CriteriaItem.key`` (SDK enum).
KEYS = frozenset(
    {
        "FlowStartDateTime",
        "FlowEndDateTime",
        "ConversationId",
        "WorkitemId",
        "FlowType",
        "FlowId",
        "FlowErrorReason",
        "FlowWarningReason",
        "FlowAlternateExecutionId",
        "FlowObjectExecutionId",
        "FlowActionId",
        "FlowActionType",
        "FlowActionOutputPathId",
        "FlowActionOutputPathName",
        "FlowActionIdOutputPathId",
        "FlowActionIdOutputPathName",
        "FlowActionTypeOutputPathId",
        "FlowActionTypeOutputPathName",
        "BotId",
        "BotErrorReason",
        "BotFlowExecutionId",
        "BotObjectExecutionId",
    }
)
#: ``CriteriaItem.operator`` (SDK enum).
OPERATORS = frozenset({"eq", "gt", "gte", "lt", "lte", "not", "begins", "not_null"})
_DATES = frozenset({"FlowStartDateTime", "FlowEndDateTime"})

#: An instance's values for each key it has (strings, or datetimes for the date keys).
Values = dict[str, list[Any]]
Predicate = Callable[[Values], bool]


@dataclass(frozen=True)
class _Item:
    key: str
    operator: str
    value: Any

    def matches(self, values: Values) -> bool:
        present = values.get(self.key, [])
        if self.operator == "not_null":
            return bool(present)
        if self.operator == "not":
            return all(not _equal(v, self.value) for v in present)
        return any(_compare(self.operator, v, self.value) for v in present)


def _equal(have: Any, want: Any) -> bool:
    if isinstance(have, str):
        return have.casefold() == str(want).casefold()
    return bool(have == want)


def _compare(operator: str, have: Any, want: Any) -> bool:
    if operator == "eq":
        return _equal(have, want)
    if operator == "begins":
        return str(have).casefold().startswith(str(want).casefold())
    if operator == "gt":
        return bool(have > want)
    if operator == "gte":
        return bool(have >= want)
    if operator == "lt":
        return bool(have < want)
    return bool(have <= want)


def parse_query(body: Any) -> Predicate:
    """Validate a ``CriteriaQuery``; a predicate over an instance's values, or a 400."""
    if not isinstance(body, dict) or not isinstance(body.get("query", []), list):
        raise BadRequest('The body must be a CriteriaQuery: {"query": [...]}.')
    groups = [_group(g, f"query[{i}]") for i, g in enumerate(body.get("query", []))]
    return lambda values: all(group(values) for group in groups)


def _group(raw: Any, where: str) -> Predicate:
    if not isinstance(raw, dict) or not raw.keys() & {"criteria", "and", "or", "not"}:
        raise BadRequest(f"{where} must hold 'criteria', 'and', 'or' or 'not'.")
    parts: list[Predicate] = []
    if "criteria" in raw:
        item = _item(raw["criteria"], f"{where}.criteria")
        parts.append(item.matches)
    for name in ("and", "or", "not"):
        if name not in raw:
            continue
        if not isinstance(raw[name], list) or not raw[name]:
            raise BadRequest(f"{where}.{name} must be a non-empty list of criteria.")
        items = [_item(r, f"{where}.{name}[{i}]") for i, r in enumerate(raw[name])]
        parts.append(_combine(name, items))
    return lambda values: all(part(values) for part in parts)


def _combine(name: str, items: list[_Item]) -> Predicate:
    if name == "and":
        return lambda values: all(i.matches(values) for i in items)
    if name == "or":
        return lambda values: any(i.matches(values) for i in items)
    return lambda values: not any(i.matches(values) for i in items)


def _item(raw: Any, where: str) -> _Item:
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be a CriteriaItem {{key, operator, value}}.")
    key, operator, value = raw.get("key"), raw.get("operator"), raw.get("value")
    if key not in KEYS:
        raise BadRequest(f"{where}.key {key!r} is not a valid criteria key.")
    if operator not in OPERATORS:
        raise BadRequest(f"{where}.operator {operator!r} is not a valid operator.")
    if operator == "not_null":
        return _Item(key, operator, None)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where}.value is required for operator {operator!r}.")
    if key in _DATES:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"{where}.value {value!r} is not an ISO-8601 date-time.") from exc
        return _Item(key, operator, moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if operator in {"gt", "gte", "lt", "lte"}:
        raise BadRequest(f"{where}: operator {operator!r} applies to date-time keys only.")
    return _Item(key, operator, value)
