"""The first setup: two consistent lock files, and ./dev choosing an interpreter.

requirements.lock is what the demo and the server install; requirements-dev.lock adds the
test and lint tools. ./dev installs one and then the other into one .venv, so a package
they share must be pinned identically in both, or switching commands would swap versions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", re.M
)


def _pins(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Package name → (pinned version, its hashes)."""
    return {
        canonicalize_name(name): (version, frozenset(re.findall(r"sha256:([0-9a-f]{64})", hashes)))
        for name, version, hashes in _PIN.findall(lock.read_text(encoding="utf-8"))
    }


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(text).name) for text in requirements}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_locked_package_is_pinned_with_hashes() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        pins = _pins(lock)
        assert pins, f"{lock.name} pins nothing"
        unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
        assert not unhashed, f"{lock.name} pins without hashes: {unhashed}"
        pinned_lines = re.findall(r"^[A-Za-z0-9]\S*", lock.read_text(encoding="utf-8"), re.M)
        assert len(pinned_lines) == len(pins), f"{lock.name} has a line that is not a ==pin"


def test_the_runtime_lock_holds_the_runtime_and_the_build_backend_only() -> None:
    project, groups = _pyproject()["project"], _pyproject()["dependency-groups"]
    runtime = set(_pins(RUNTIME_LOCK))
    assert _names(project["dependencies"]) <= runtime
    assert _names(groups["build"]) <= runtime
    tools = _names(project["optional-dependencies"]["dev"])
    assert not tools & runtime, "the demo would install development tools"


def test_the_build_group_locks_the_build_backend_pip_is_told_to_use() -> None:
    backend = _names(_pyproject()["build-system"]["requires"])
    assert backend <= _names(_pyproject()["dependency-groups"]["build"])


def test_the_dev_lock_pins_the_runtime_exactly_as_the_runtime_lock_does() -> None:
    runtime, dev = _pins(RUNTIME_LOCK), _pins(DEV_LOCK)
    differing = sorted(name for name, pin in runtime.items() if dev.get(name) != pin)
    assert not differing, f"requirements-dev.lock differs from requirements.lock on {differing}"
    tools = _names(_pyproject()["project"]["optional-dependencies"]["dev"])
    assert tools <= set(dev)


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda lock: lock.name)
def test_each_lock_names_the_command_that_regenerates_it(lock: Path) -> None:
    header = lock.read_text(encoding="utf-8").splitlines()[:2]
    assert header[1].lstrip("# ").startswith("uv pip compile pyproject.toml ")
    assert "--generate-hashes" in header[1]
    assert header[1].endswith(f"-o {lock.name}")


def test_no_script_of_the_repository_needs_uv() -> None:
    # uv only regenerates the locks; a newcomer or CI installs them with pip.
    for script in (ROOT / "dev", ROOT / ".ci" / "run"):
        lines = [
            line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")
        ]
        assert not [line for line in lines if re.search(r"\buvx?\b", line)], script.name


def _fake_python(bin_dir: Path, name: str, version: str, *, fits: bool) -> None:
    """An interpreter stand-in: answers --version, the version check, and fails a venv."""
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) echo "Python {version}";; -c) exit {0 if fits else 1};; '
        '*) echo "venv by $0" >&2; exit 3;; esac\n'
    )
    script.chmod(0o755)


def _run_dev(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    repo, bin_dir = tmp_path / "repo", tmp_path / "bin"
    repo.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dev", repo / "dev")
    dirname = shutil.which("dirname")
    assert dirname is not None
    (bin_dir / "dirname").symlink_to(dirname)
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, str(repo / "dev"), *args],
        env={"PATH": str(bin_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_dev_falls_back_to_python3_12_when_python3_is_too_old(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _fake_python(tmp_path / "bin", "python3", "3.10.12", fits=False)
    _fake_python(tmp_path / "bin", "python3.12", "3.12.4", fits=True)
    _fake_python(tmp_path / "bin", "python3.11", "3.11.9", fits=True)
    result = _run_dev(tmp_path, "demo")
    assert "creating .venv with python3.12 (Python 3.12.4)" in result.stderr
    assert "venv by" in result.stderr and result.stderr.count("venv by") == 1
    assert "python3.12" in result.stderr.split("venv by", 1)[1]
    assert result.returncode == 1


def test_dev_names_what_it_found_and_the_python_variable_when_nothing_fits(
    tmp_path: Path,
) -> None:
    (tmp_path / "bin").mkdir()
    _fake_python(tmp_path / "bin", "python3", "3.10.12", fits=False)
    _fake_python(tmp_path / "bin", "python3.11", "3.11.0b1", fits=False)
    result = _run_dev(tmp_path, "demo")
    assert result.returncode == 1
    assert (
        "needs Python 3.11 or 3.12 (python3 is Python 3.10.12; python3.12 not on PATH; "
        "python3.11 is Python 3.11.0b1)"
    ) in result.stderr
    assert "PYTHON=/path/to/python3.11 ./dev demo" in result.stderr
    assert not (tmp_path / "repo" / ".venv").exists()


def test_dev_uses_the_python_it_is_given_and_no_other(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _fake_python(tmp_path / "bin", "python3.9", "3.9.18", fits=False)
    _fake_python(tmp_path / "bin", "python3", "3.11.9", fits=True)
    result = _run_dev(tmp_path, "test", env={"PYTHON": "python3.9"})
    assert result.returncode == 1
    assert "PYTHON=python3.9 is Python 3.9.18" in result.stderr
    assert "creating" not in result.stderr
