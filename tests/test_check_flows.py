"""`python -m callcenter check-flows`: one file:line line per problem, non-zero exit on any."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.cli import main

REPO = Path(__file__).resolve().parents[1]
BROKEN = REPO / "tests" / "fixtures" / "flows_broken"


def expectations() -> dict[str, tuple[int, str]]:
    """Each broken file says on its first line what check-flows must print about it."""
    found = {}
    for path in sorted(BROKEN.glob("*.yaml")):
        match = re.match(r"# expect: (\d+): (.+)", path.read_text(encoding="utf-8"))
        if match:
            found[path.name] = (int(match.group(1)), match.group(2))
    return found


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # no CALLCENTER_* variables at all: an operator's check needs no AMI secret
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "check-flows", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_broken_file_gets_its_one_clear_line() -> None:
    expected = expectations()
    assert len(expected) >= 14
    result = run_cli("tests/fixtures/flows_broken")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    by_file: dict[str, list[str]] = {}
    for line in lines:
        path, _, _ = line.partition(":")
        by_file.setdefault(Path(path).name, []).append(line)
    assert set(by_file) == set(expected), lines
    for name, (line_no, text) in expected.items():
        assert len(by_file[name]) == 1, by_file[name]
        assert by_file[name][0].startswith(f"tests/fixtures/flows_broken/{name}:{line_no}: ")
        assert text in by_file[name][0], by_file[name][0]
    assert f"{len(lines)} problem(s)" in result.stderr


def test_shipped_flows_pass() -> None:
    result = run_cli()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ivr_flows: 3 flow(s) valid: after_hours, holiday, main"
    assert result.stderr == ""


def test_problems_in_the_catalogue_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prompts.yaml").write_text(
        "default_language: zh\nlanguages: {zh: cmn}\nprompts:\n  welcome: {zh: 您好, fr: Salut}\n"
    )
    (tmp_path / "main.yaml").write_text("languages: [zh]\nstart: a\nnodes: {a: {type: queue}}\n")
    assert main(["check-flows", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        out == f"{tmp_path}/prompts.yaml:4: prompt 'welcome': language 'fr' is not in languages\n"
    )


def test_another_catalogue_can_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.yaml").write_text(
        "languages: [zh]\nstart: a\nnodes: {a: {type: queue, prompts: [welcome]}}\n"
    )
    prompts = REPO / "ivr_flows" / "prompts.yaml"
    assert main(["check-flows", str(tmp_path), "--prompts", str(prompts)]) == 0
    assert "1 flow(s) valid: main" in capsys.readouterr().out


def test_missing_directory_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-flows", "/nonexistent/flows"]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_a_single_file_is_checked_with_the_catalogue_and_flows_beside_it() -> None:
    result = run_cli("ivr_flows/main.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ivr_flows/main.yaml: flow 'main' valid"


def test_a_broken_single_file_gives_file_and_line_and_only_its_own_problems() -> None:
    expected = expectations()
    for name in ("unknown_target.yaml", "syntax_error.yaml", "duplicate_key.yaml"):
        line_no, text = expected[name]
        result = run_cli(f"tests/fixtures/flows_broken/{name}")
        assert result.returncode == 1, result.stdout + result.stderr
        [line] = result.stdout.splitlines()  # the other broken files beside it are not shown
        assert line.startswith(f"tests/fixtures/flows_broken/{name}:{line_no}: "), line
        assert text in line, line
        assert f"1 problem(s) in tests/fixtures/flows_broken/{name}" in result.stderr


def test_files_and_folders_together(tmp_path: Path) -> None:
    (tmp_path / "prompts.yaml").write_text(
        "default_language: zh\nlanguages: {zh: cmn}\nprompts:\n  welcome: {zh: 您好}\n"
    )
    (tmp_path / "side.yaml").write_text("languages: [zh]\nstart: a\nnodes: {a: {type: queue}}\n")
    result = run_cli(str(tmp_path / "side.yaml"), "ivr_flows", "tests/fixtures/flows_broken")
    assert result.returncode == 1  # the broken folder
    assert result.stdout.splitlines()[:2] == [
        f"{tmp_path}/side.yaml: flow 'side' valid",
        "ivr_flows: 3 flow(s) valid: after_hours, holiday, main",
    ]
    assert run_cli("ivr_flows/README.txt").returncode == 2  # neither a folder nor a flow file
