"""Request templates and response translation, as execute applies them."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.template import TranslationError, json_path, render, translate_strictly

SCOPE: dict[str, dict[str, Any]] = {
    "input": {"who": "ada", "n": 3, "flag": True, "tags": ["a", "b"], "empty": None},
    "credentials": {"token": "t0k"},
}


def test_quiet_references_render_empty_when_unresolved_and_loud_ones_stay_literal() -> None:
    rendered = render("$!{input.who}|$!{input.missing}|${input.missing}|$!{input.empty}", SCOPE)

    assert rendered == "ada||${input.missing}|"


def test_values_are_inserted_as_text_strings_unquoted_others_as_json() -> None:
    rendered = render(
        '{"n": $!{input.n}, "flag": $!{input.flag}, "tags": $!{input.tags}, '
        '"auth": "Bearer $!{credentials.token}"}',
        SCOPE,
    )

    assert rendered == '{"n": 3, "flag": true, "tags": ["a","b"], "auth": "Bearer t0k"}'


def test_json_paths_walk_keys_indexes_and_quoted_names() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}, "odd key": "x"}

    assert json_path(document, "$.a.b[1].c") == 2
    assert json_path(document, "$['odd key']") == "x"
    assert json_path(document, "$.a.b[5].c") is None
    assert json_path(document, "a.b") is None


def test_strict_translation_uses_defaults_and_keeps_nulls() -> None:
    config = {
        "translationMap": {"id": "$.id", "note": "$.note", "tier": "$.tier"},
        "translationMapDefaults": {"tier": '"standard"', "note": '"fallback"'},
        "successTemplate": '{"id": ${id}, "note": ${note}, "tier": ${tier}}',
    }

    translated, output = translate_strictly({"id": "x", "note": None}, config)

    assert translated == {"id": "x", "note": None, "tier": "standard"}
    assert output == {"id": "x", "note": None, "tier": "standard"}


def test_raw_result_passes_the_answer_through() -> None:
    assert translate_strictly({"a": 1}, {"successTemplate": "${rawResult}"}) == ({}, {"a": 1})
    assert translate_strictly([1, 2], None) == ({}, [1, 2])


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"translationMap": {"x": "$.nope"}}, "did not resolve"),
        (
            {"translationMap": {"x": "$.nope"}, "translationMapDefaults": {"x": "not json"}},
            "is not JSON",
        ),
        ({"successTemplate": '{"y": ${y}}'}, "refers to 'y'"),
        ({"translationMap": {"x": "$.a"}, "successTemplate": "{${x}"}, "did not render"),
    ],
)
def test_strict_translation_refuses_what_cannot_become_an_output(
    config: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(TranslationError, match=complaint):
        translate_strictly({"a": 1}, config)
