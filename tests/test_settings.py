"""Start-up with a bad setting fails fast with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = {"CALLCENTER_AMI_SECRET": "a-secret-of-16ch"}


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "run"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "CALLCENTER_AMI_SECRET is required"),
        ({"CALLCENTER_AMI_SECRET": "short"}, "CALLCENTER_AMI_SECRET is invalid"),
        ({**BASE, "CALLCENTER_AMI_PORT": "five"}, "CALLCENTER_AMI_PORT is invalid"),
        ({**BASE, "CALLCENTER_API_PORT": "70000"}, "CALLCENTER_API_PORT is invalid"),
        ({**BASE, "CALLCENTER_DATABASE_URL": "mysql://x"}, "CALLCENTER_DATABASE_URL is invalid"),
        ({**BASE, "CALLCENTER_LOG_LEVEL": "LOUD"}, "CALLCENTER_LOG_LEVEL is invalid"),
        ({**BASE, "CALLCENTER_SURVEY_HOURS": "21:00-09:00"}, "CALLCENTER_SURVEY_HOURS is invalid"),
        (
            {**BASE, "CALLCENTER_TICKET_ARCHIVE_AT": "3 am"},
            "CALLCENTER_TICKET_ARCHIVE_AT is invalid",
        ),
    ],
)
def test_bad_setting_stops_startup_with_one_line(env: dict[str, str], named: str) -> None:
    result = start(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "a-secret-of-16ch" not in result.stderr


def test_a_malformed_calendar_stops_startup_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nholidays:\n  - name: 元旦\n    from: 2027-01-01\n    to: 2027-13-01\n"
    )
    result = start({**BASE, "CALLCENTER_CALENDAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "2027.yaml:" in lines[0] and "calendar" in lines[0], lines[0]
