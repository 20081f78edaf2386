"""The slice of data-action templating the sandbox understands (genesys-api.md §10.1).

Request side (``requestUrlTemplate``, ``headers``, ``requestTemplate``): Velocity-style
references ``${input.<field>}``, ``${credentials.<field>}`` and ``${input.rawRequest}``
(the whole input as JSON); ``$!{...}`` renders empty when unresolved, ``${...}`` stays
literal, as Velocity does. Values are inserted as text (strings without quotes).

Response side: ``translationMap`` entries are JSONPath expressions of the form
``$.a.b[0].c`` into the upstream answer, with ``translationMapDefaults`` (JSON literals)
for paths that do not resolve; ``successTemplate`` may reference translated names as
``${name}`` (inserted as JSON) or be ``${rawResult}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

_REFERENCE = re.compile(r"\$(!?)\{([A-Za-z_][\w.]*)\}")
_PATH_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]")
_MISSING = object()


def render(template: str, values: Mapping[str, Mapping[str, Any]]) -> str:
    """Fill ``${scope.field}`` references from ``values[scope][field]``."""

    def replace(match: re.Match[str]) -> str:
        quiet, reference = match.group(1), match.group(2)
        scope, _, name = reference.partition(".")
        value = values.get(scope, {}).get(name, _MISSING) if name else _MISSING
        if value is _MISSING or value is None:
            return "" if quiet else match.group(0)
        if isinstance(value, str):
            return value
        return orjson.dumps(value).decode()

    return _REFERENCE.sub(replace, template)


def json_path(document: Any, path: str) -> Any:
    """Resolve ``$.a.b[0]`` in ``document``; ``None`` when it does not resolve."""
    value = _resolve(document, path.strip())
    return None if value is _MISSING else value


def _resolve(document: Any, path: str) -> Any:
    if not path.startswith("$"):
        return _MISSING
    position, current = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            return _MISSING
        key, index, quoted = step.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                return _MISSING
            current = current[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(current, Mapping) or name not in current:
                return _MISSING
            current = current[name]
        position = step.end()
    return current


def translate(answer: Any, response_config: Mapping[str, Any] | None) -> Any:
    """Turn the upstream JSON answer into the action's output."""
    config = response_config or {}
    translation_map = config.get("translationMap") or {}
    defaults = config.get("translationMapDefaults") or {}
    translated: dict[str, Any] = {}
    for name, path in translation_map.items():
        value = _resolve(answer, str(path))
        if value is _MISSING and name in defaults:
            try:
                value = orjson.loads(defaults[name])
            except orjson.JSONDecodeError:
                value = defaults[name]
        translated[name] = None if value is _MISSING else value
    template = str(config.get("successTemplate") or "").strip()
    if template == "${rawResult}":
        return answer
    if not template:
        return translated if translation_map else answer

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name in translated:
            return orjson.dumps(translated[name]).decode()
        return orjson.dumps(answer).decode() if name == "rawResult" else match.group(0)

    text = _REFERENCE.sub(replace, template)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return translated if translation_map else answer


class TranslationError(Exception):
    """The answer cannot become the action's output (the failure path in a flow)."""


def translate_strictly(
    answer: Any, response_config: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Any]:
    """Like :func:`translate`, but as ``execute`` does it: the translated values and the output.

    A ``translationMap`` path that does not resolve and has no default, a default that is
    not JSON, or a ``successTemplate`` that does not render to JSON is a
    :class:`TranslationError` instead of a fallback.
    """
    config = response_config or {}
    translation_map = config.get("translationMap") or {}
    defaults = config.get("translationMapDefaults") or {}
    translated: dict[str, Any] = {}
    for name, path in translation_map.items():
        value = _resolve(answer, str(path))
        if value is _MISSING:
            if name not in defaults:
                raise TranslationError(
                    f"The translation map entry {name!r} ({path}) did not resolve "
                    "and has no default."
                )
            try:
                value = orjson.loads(defaults[name])
            except orjson.JSONDecodeError as exc:
                raise TranslationError(f"The default for {name!r} is not JSON.") from exc
        translated[name] = value
    template = str(config.get("successTemplate") or "").strip()
    if template == "${rawResult}" or (not template and not translation_map):
        return translated, answer
    if not template:
        return translated, translated

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name in translated:
            return orjson.dumps(translated[name]).decode()
        if name == "rawResult":
            return orjson.dumps(answer).decode()
        raise TranslationError(f"The success template refers to {name!r}, which is not translated.")

    text = _REFERENCE.sub(replace, template)
    try:
        return translated, orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(f"The success template did not render to JSON: {exc}") from exc
