"""The testbed: a real Asterisk and SIPp phones in a Debian sid chroot, on loopback only.

Usage: python -m sip_testbed.testbed {up|down|status}. `up` builds (or reuses) the root file
system, renders asterisk_conf/ and dialplan/ into the run directory, synthesizes the prompts,
starts Asterisk bound to 127.0.0.1 and waits for FullyBooted over AMI; `down` stops it and
unmounts. The run directory is bind-mounted into the chroot at the same path, so a path means the
same file to Asterisk and to the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sip_testbed import rtp_pcap

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULE_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
DATA_DIR = "/usr/share/asterisk"
# a SIPp phone standing for the public network beyond the trunk (calls out go there)
PSTN_PORT = 5300
DEFAULT_RUN_DIR = REPO / "var" / "testbed"


class TestbedError(Exception):
    pass


def build_rootfs() -> Path:
    """Path of the cached root file system, built by build_rootfs.sh when missing."""
    out = subprocess.run(
        ["bash", str(HERE / "build_rootfs.sh")], check=False, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise TestbedError(f"building the testbed root file system failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def _ami_fully_booted(host: str, port: int, user: str, secret: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.settimeout(2)
                sock.sendall(
                    f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode()
                )
                data = b""
                while b"FullyBooted" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if b"Authentication failed" in data:
                        raise TestbedError("Asterisk refused the testbed's AMI credentials")
                if b"FullyBooted" in data:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


@dataclass
class Testbed:
    __test__ = False  # not a pytest test class

    run_dir: Path = DEFAULT_RUN_DIR
    ami_port: int = 5038
    sip_port: int = 5060
    agi_port: int = 4573
    ami_user: str = "callcenter"
    ami_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    softphones: Sequence[Mapping[str, str]] = ()
    rootfs: Path | None = None
    # a node of a cluster: its own loopback address and name, the engines' FastAGI URLs in
    # order, the trunk (Kamailio) it takes calls from and the proxy it reaches agents through
    host: str = "127.0.0.1"
    system_name: str = ""
    agi_urls: Sequence[str] = ()
    trunk_match: str = ""
    agent_proxy: str = ""
    # several nodes share one root file system: only the last one stopped unmounts its /proc
    shared_root: bool = False
    # Asterisk refuses calls above this load average (a cluster's five processes and SIPp
    # share the machine's cores with each other, so its nodes are given more room)
    max_load: str = "8.0"
    _asterisk: subprocess.Popen[bytes] | None = None

    # ---- settings the engine needs to talk to this testbed ----
    def engine_env(self) -> dict[str, str]:
        return {
            "CALLCENTER_AMI_HOST": self.host,
            "CALLCENTER_AMI_PORT": str(self.ami_port),
            "CALLCENTER_AMI_USER": self.ami_user,
            "CALLCENTER_AMI_SECRET": self.ami_secret,
            "CALLCENTER_AGI_HOST": "127.0.0.1",
            "CALLCENTER_AGI_PORT": str(self.agi_port),
            "CALLCENTER_SIP_PORT": str(self.sip_port),
            "CALLCENTER_RUN_DIR": str(self.run_dir),
        }

    @property
    def root(self) -> Path:
        if self.rootfs is None:
            self.rootfs = build_rootfs()
        return self.rootfs

    @property
    def conf_dir(self) -> Path:
        return self.run_dir / "etc" / "asterisk"

    def _inside(self, path: Path) -> Path:
        return self.root / str(path).lstrip("/")

    # ---- lifecycle ----
    def start(self) -> None:
        self.run_dir = self.run_dir.resolve()
        self.cleanup_stale()
        for sub in ("etc/asterisk", "lib", "spool", "run", "log", "cache", "prompts", "sipp"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self._write_hosts()
        try:
            self._mount()
            self._render()
            self.synthesize_prompts()
            self._start_asterisk()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc = self._asterisk
        self._asterisk = None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._kill_pidfile()
        self._unmount()

    def restart_asterisk(self, *, crash: bool = False) -> None:
        """Stop Asterisk (gracefully, or with SIGKILL to simulate a crash) and start it again,
        keeping mounts and configuration."""
        proc = self._asterisk
        if proc is not None and proc.poll() is None:
            if crash:
                pid = int((self.run_dir / "run" / "asterisk.pid").read_text().strip())
                os.kill(pid, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        self._asterisk = None
        self._start_asterisk()

    @contextlib.contextmanager
    def running(self) -> Iterator[Testbed]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def cleanup_stale(self) -> None:
        """A run that was killed hard may have left Asterisk running and mounts behind."""
        self._kill_pidfile()
        self._unmount()

    def _kill_pidfile(self) -> None:
        pidfile = self.run_dir / "run" / "asterisk.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, FileNotFoundError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"asterisk" in cmdline:
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    time.sleep(0.1)
                    os.kill(pid, 0)
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            pidfile.unlink()

    def _write_hosts(self) -> None:
        # PJSIP stalls ~5 s per call resolving the host name unless the chroot can resolve it
        hostname = socket.gethostname()
        hosts = self.root / "etc" / "hosts"
        if not hosts.exists() or hostname not in hosts.read_text():
            hosts.write_text(f"127.0.0.1 localhost\n127.0.1.1 {hostname}\n::1 localhost\n")

    def _mount(self) -> None:
        proc_dir = self.root / "proc"
        if not _mounted(proc_dir):
            subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)
        inside = self._inside(self.run_dir)
        inside.mkdir(parents=True, exist_ok=True)
        if not _mounted(inside):
            subprocess.run(["mount", "--bind", str(self.run_dir), str(inside)], check=True)

    def _unmount(self) -> None:
        if self.rootfs is None and not (HERE / "packages.txt").exists():
            return
        paths = [self._inside(self.run_dir)]
        if not self.shared_root:
            paths.append(self.root / "proc")
        for path in paths:
            while _mounted(path):
                if subprocess.run(["umount", str(path)], check=False).returncode != 0:
                    subprocess.run(["umount", "-l", str(path)], check=False)
                    break

    def _render(self) -> None:
        sys.path.insert(0, str(REPO))
        from callcenter.telephony.render import Softphone, render

        values = {
            "RUN_DIR": str(self.run_dir),
            "MODULE_DIR": MODULE_DIR,
            "DATA_DIR": DATA_DIR,
            "AMI_BIND": self.host,
            "AMI_PORT": str(self.ami_port),
            "AMI_USER": self.ami_user,
            "AMI_SECRET": self.ami_secret,
            "AMI_PERMIT": "127.0.0.0/255.0.0.0"
            if self.system_name
            else "127.0.0.1/255.255.255.255",
            "SIP_BIND": self.host,
            "SIP_PORT": str(self.sip_port),
            "TRUNK_MATCH": self.trunk_match or self.host,
            # the "PSTN" beyond the trunk: a SIPp phone on this port, when a test starts one
            "TRUNK_CONTACT": f"sip:127.0.0.1:{PSTN_PORT}",
            "AGI_URL": (self.agi_urls or [f"agi://127.0.0.1:{self.agi_port}"])[0],
            "AGI_URLS": "|".join(self.agi_urls or [f"agi://127.0.0.1:{self.agi_port}"]),
            "SYSTEM_NAME": self.system_name,
            "MAX_LOAD": self.max_load,
            "AGENT_PROXY_CONTACT": self.agent_proxy,
            "PROMPT_DIR": str(self.run_dir / "prompts"),
        }
        phones = [Softphone(**dict(phone)) for phone in self.softphones]
        render(self.conf_dir, values, phones)

    def synthesize_prompts(self) -> None:
        """espeak-ng + sox in the chroot: one 8 kHz mono WAV per prompt key and language."""
        catalogue = yaml.safe_load((REPO / "ivr_flows" / "prompts.yaml").read_text())
        default = catalogue["default_language"]
        for key, texts in catalogue["prompts"].items():
            for lang, text in texts.items():
                voice = catalogue["languages"][lang]
                out_dir = self.run_dir / "prompts" / ("" if lang == default else lang)
                out_dir.mkdir(parents=True, exist_ok=True)
                target = out_dir / f"{key}.wav"
                stamp = out_dir / f".{key}.sha"
                digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()
                if target.exists() and stamp.exists() and stamp.read_text() == digest:
                    continue
                raw = self.run_dir / "prompts" / f".{key}.{lang}.raw.wav"
                self._chroot(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text])
                self._chroot(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target)])
                raw.unlink()
                stamp.write_text(digest)

    def _chroot(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            ["chroot", str(self.root), *argv],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise TestbedError(f"{' '.join(argv[:2])} failed: {out.stderr[-2000:]}")
        return out

    def _start_asterisk(self) -> None:
        log = (self.run_dir / "log" / "asterisk.console.log").open("ab")
        self._asterisk = subprocess.Popen(
            [
                "chroot",
                str(self.root),
                "/usr/sbin/asterisk",
                "-f",
                "-n",
                "-C",
                str(self.conf_dir / "asterisk.conf"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not _ami_fully_booted(self.host, self.ami_port, self.ami_user, self.ami_secret, 60):
            tail = (self.run_dir / "log" / "asterisk.console.log").read_text()[-3000:]
            self.stop()
            raise TestbedError(f"Asterisk did not reach FullyBooted within 60 s:\n{tail}")

    def cli(self, command: str) -> str:
        """Run an Asterisk CLI command against the running instance."""
        return self._chroot(
            ["/usr/sbin/asterisk", "-C", str(self.conf_dir / "asterisk.conf"), "-rx", command]
        ).stdout

    # ---- SIPp phones ----
    def scenario(self, scenario: str, params: Mapping[str, str] | None = None) -> Path:
        """Write sip_testbed/scenarios/<scenario>/scenario.xml with its placeholders filled
        into the run directory; returns the path (the same inside the chroot)."""
        filled = {"DTMF": "", **(params or {})}
        digits = filled.pop("DTMF")
        work = self.run_dir / "sipp"
        work.mkdir(parents=True, exist_ok=True)
        filled["DTMF"] = "".join(_dtmf_actions(digits, work))
        text = (HERE / "scenarios" / scenario / "scenario.xml").read_text()
        missing = sorted(set(re.findall(r"@@([A-Z_]+)@@", text)) - filled.keys())
        if missing:
            raise TestbedError(f"scenario {scenario} needs parameters: {', '.join(missing)}")
        for name, value in filled.items():
            text = text.replace(f"@@{name}@@", value)
        work = self.run_dir / "sipp"
        work.mkdir(parents=True, exist_ok=True)
        target = work / f"{scenario}-{secrets.token_hex(4)}.xml"
        target.write_text(text)
        return target

    def sipp_workdir(self) -> Path:
        """A fresh working directory for one SIPp run (its trace and error files land there)."""
        runs = self.run_dir / "sipp" / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=runs))

    def sipp_argv(
        self,
        xml: Path,
        args: Sequence[str],
        workdir: Path | None = None,
        local_ip: str | None = None,
    ) -> list[str]:
        """SIPp inside the chroot, run from a working directory of its own: chroot changes to
        /, so a subprocess cwd would not reach SIPp; the shell changes directory inside."""
        workdir = workdir or self.sipp_workdir()
        return [
            "chroot",
            str(self.root),
            "/bin/sh",
            "-c",
            'cd "$0" && exec sipp "$@"',
            str(workdir),
            "-sf",
            str(xml),
            "-i",
            local_ip or self.host,
            "-nostdin",
            *args,
        ]

    def sipp(
        self,
        scenario: str,
        args: Sequence[str],
        params: Mapping[str, str] | None = None,
        timeout: float = 120,
        local_ip: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a SIPp scenario to completion inside the chroot."""
        argv = self.sipp_argv(self.scenario(scenario, params), args, local_ip=local_ip)
        return subprocess.run(
            argv,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.run_dir / "sipp",
        )

    def sipp_background(
        self,
        scenario: str,
        args: Sequence[str],
        params: Mapping[str, str] | None = None,
        local_ip: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a SIPp phone that keeps running (e.g. an agent softphone) until terminated;
        its screen goes to a log file so a full pipe never blocks it."""
        xml = self.scenario(scenario, params)
        log = (self.run_dir / "sipp" / f"{xml.stem}.log").open("wb")
        try:
            return subprocess.Popen(
                self.sipp_argv(xml, args, local_ip=local_ip),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir / "sipp",
            )
        finally:
            log.close()


def _dtmf_actions(digits: str, work: Path) -> Iterator[str]:
    """One play_pcap_audio of the caller's RTP for the whole script (see rtp_pcap)."""
    if not digits:
        return
    pcap = work / f"dtmf-{hashlib.sha256(digits.encode()).hexdigest()[:12]}.pcap"
    rtp_pcap.write(digits, pcap)
    yield f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'


def _state_file(run_dir: Path) -> Path:
    return run_dir / "testbed.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sip_testbed.testbed")
    parser.add_argument("action", choices=["build", "up", "down", "status"])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    state = _state_file(run_dir)
    if args.action == "build":
        print(build_rootfs())
        return 0
    if args.action == "up":
        bed = Testbed(run_dir=run_dir)
        bed.start()
        # Asterisk keeps running after this command; `down` stops it through its pid file.
        assert bed._asterisk is not None
        state.write_text(json.dumps({"rootfs": str(bed.root), **bed.engine_env()}))
        state.chmod(0o600)
        bed._asterisk = None
        print(f"testbed up: Asterisk on 127.0.0.1 (SIP {bed.sip_port}, AMI {bed.ami_port})")
        return 0
    if args.action == "down":
        rootfs = None
        if state.exists():
            rootfs = Path(json.loads(state.read_text())["rootfs"])
        Testbed(run_dir=run_dir, rootfs=rootfs).stop()
        state.unlink(missing_ok=True)
        print("testbed down")
        return 0
    print("up" if (run_dir / "run" / "asterisk.pid").exists() else "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
