"""The testbed's SIPp runs: each gets a working directory of its own for its trace files."""

from __future__ import annotations

import subprocess

import pytest

from sip_testbed.testbed import Testbed

pytestmark = pytest.mark.testbed


def test_each_sipp_run_writes_its_traces_in_a_directory_of_its_own(testbed: Testbed) -> None:
    root_before = set(testbed.root.iterdir())
    workdirs = [testbed.sipp_workdir(), testbed.sipp_workdir()]
    for workdir in workdirs:
        # the citizen scenario without its -inf file: SIPp stops at once and says why in
        # <scenario>_<pid>_errors.log, in the directory it runs from
        argv = testbed.sipp_argv(
            testbed.scenario("citizen_call", {}),
            [f"127.0.0.1:{testbed.sip_port}", "-m", "1", "-p", "5095", "-trace_err"],
            workdir,
        )
        subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert workdirs[0] != workdirs[1]
    for workdir in workdirs:
        traces = [path.name for path in workdir.iterdir()]
        assert len(traces) == 1 and traces[0].endswith("_errors.log"), traces
    assert set(testbed.root.iterdir()) == root_before
