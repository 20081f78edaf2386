"""Flow files (JSON or YAML) and the ``flowtrack sandbox`` command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sandbox.cli import add_arguments, config_from, run
from sandbox.config import SandboxConfig
from sandbox.errors import FlowFileError, SandboxError
from sandbox.flows import SUCCESS_PATH, FlowDefinition, load_flow_file, parse_flows
from sandbox.samples import sample_flows

FLOW_FILE: dict[str, Any] = {
    "flows": [
        {
            "id": "wf-1",
            "name": "Order follow-up",
            "type": "workflow",
            "data_action": "flowtrack — report flow event",
            "nodes": [
                {"id": "lookup", "type": "CallData", "duration_ms": 200, "next": "decide"},
                {
                    "id": "decide",
                    "type": "Decision",
                    "paths": [
                        {"name": "yes", "to": "notify", "weight": 3},
                        {"name": "no", "to": None},
                    ],
                    "on_error": "notify",
                },
                {"id": "notify", "error_probability": 0.1, "hang_probability": 0.01},
            ],
        },
        {"name": "Main IVR", "type": "inboundcall", "nodes": [{"id": "menu"}]},
    ]
}


def test_yaml_and_json_flow_files_load_the_same_flows(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(yaml.safe_dump(FLOW_FILE, allow_unicode=True))
    (tmp_path / "flows.json").write_bytes(orjson.dumps(FLOW_FILE))

    from_yaml = load_flow_file(tmp_path / "flows.yaml")
    from_json = load_flow_file(tmp_path / "flows.json")

    assert from_yaml == from_json
    workflow, ivr = from_yaml
    assert workflow.launchable
    assert not workflow.conversation
    assert workflow.start == "lookup"
    assert workflow.data_action == "flowtrack — report flow event"
    assert workflow.node("lookup").paths[0].name == SUCCESS_PATH
    assert [p.target for p in workflow.node("decide").paths] == ["notify", None]
    assert not ivr.launchable
    assert ivr.conversation
    assert ivr.id  # derived from the name when absent


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        ({"name": "x", "nodes": [{"id": "a", "next": "b"}]}, "unknown node 'b'"),
        ({"name": "x", "nodes": [{"id": "a"}, {"id": "a"}]}, "unique"),
        ({"name": "x", "nodes": [{"id": "a", "error_probability": 2}]}, "out of range"),
        ({"name": "x", "type": "nope", "nodes": [{"id": "a"}]}, "unknown type"),
        ({"name": "x", "nodes": []}, "non-empty"),
        ({"nodes": [{"id": "a"}]}, "'name' is required"),
    ],
)
def test_invalid_flows_are_rejected_with_a_reason(broken: dict[str, Any], complaint: str) -> None:
    with pytest.raises(FlowFileError, match=complaint):
        parse_flows([broken])


def test_built_in_samples_cover_workflows_and_conversation_flows() -> None:
    flows = sample_flows()

    assert {f.type for f in flows} == {"workflow", "inboundcall"}
    assert any(f.conversation and f.launchable for f in flows)
    assert any(n.hang_probability for f in flows for n in f.nodes)


def test_cli_arguments_build_the_sandbox_config(tmp_path: Path) -> None:
    (tmp_path / "flows.json").write_bytes(orjson.dumps(FLOW_FILE))
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    defaults = parser.parse_args([])
    args = parser.parse_args(
        [
            "--flows",
            str(tmp_path / "flows.json"),
            "--seed",
            "3",
            "--client-id",
            "me",
            "--time-scale",
            "0.1",
        ]
    )
    config = config_from(args)

    assert (defaults.host, defaults.port, defaults.client_id, defaults.client_secret) == (
        "127.0.0.1",
        8010,
        "sandbox",
        "sandbox",
    )
    assert config.seed == 3
    assert config.client_id == "me"
    assert config.time_scale == 0.1
    assert config.flows is not None
    assert [f.name for f in config.flows if isinstance(f, FlowDefinition)] == [
        "Order follow-up",
        "Main IVR",
    ]


def test_cli_refuses_an_invalid_flow_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "flows.yaml").write_text("flows: [{name: x, nodes: [{id: a, next: b}]}]")
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    code = run(parser.parse_args(["--flows", str(tmp_path / "flows.yaml")]))

    assert code == 2
    assert "unknown node 'b'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "nonsense",
    [{"rate_limit_per_minute": 0}, {"time_scale": -1.0}, {"heartbeat_seconds": 0}],
)
def test_config_rejects_nonsense(nonsense: dict[str, Any]) -> None:
    with pytest.raises(SandboxError):
        SandboxConfig(**nonsense)
