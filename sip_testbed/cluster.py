"""The cluster testbed: Kamailio in front of several Asterisk nodes, on loopback addresses.

Usage: python -m sip_testbed.cluster {up|down}. Every process runs in the testbed's root file
system; each node has its own address, name (its uniqueids start with it) and run directory
under the cluster's, which is bind-mounted into the chroot at the same path. Addresses (all
loopback, apart from the single-node testbed on 127.0.0.1):

  Kamailio (SIP 5060)            127.0.0.2   trunk calls in, agents register here
  Asterisk node a, b (SIP, AMI)  127.0.0.3, 127.0.0.4
  engines (FastAGI 4573, API)    127.0.0.5, 127.0.0.6
  citizens' SIPp phones          127.0.0.10
  agents' SIPp phones            127.0.0.11
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sip_testbed.testbed import REPO, Testbed, TestbedError, _mounted, build_rootfs

DEFAULT_RUN_DIR = REPO / "var" / "cluster"
PROXY_HOST = "127.0.0.2"
NODE_HOSTS = {"a": "127.0.0.3", "b": "127.0.0.4"}
ENGINE_HOSTS = ("127.0.0.5", "127.0.0.6")
CITIZEN_HOST = "127.0.0.10"
AGENT_HOST = "127.0.0.11"
SIP_PORT = 5060
AMI_PORT = 5038
AGI_PORT = 4573
API_PORT = 18112
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def _options_answered(host: str, port: int, timeout: float) -> bool:
    """Kamailio answers an OPTIONS addressed to itself once its children are up."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((CITIZEN_HOST, 0))
        sock.settimeout(0.5)
        local = sock.getsockname()
        while time.monotonic() < deadline:
            branch = secrets.token_hex(6)
            request = (
                f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{branch}\r\n"
                f"From: <sip:probe@{local[0]}>;tag={branch}\r\n"
                f"To: <sip:{host}:{port}>\r\nCall-ID: {branch}@probe\r\nCSeq: 1 OPTIONS\r\n"
                "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(request.encode(), (host, port))
            try:
                if sock.recv(4096).startswith(b"SIP/2.0 200"):
                    return True
            except OSError:
                time.sleep(0.2)
    return False


@dataclass
class Cluster:
    __test__ = False

    run_dir: Path = DEFAULT_RUN_DIR
    ami_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    node_hosts: dict[str, str] = field(default_factory=lambda: dict(NODE_HOSTS))
    engine_hosts: tuple[str, ...] = ENGINE_HOSTS
    rootfs: Path | None = None
    nodes: dict[str, Testbed] = field(default_factory=dict)
    _kamailio: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        if self.rootfs is None:
            self.rootfs = build_rootfs()
        return self.rootfs

    @property
    def proxy_uri(self) -> str:
        return f"sip:{PROXY_HOST}:{SIP_PORT}"

    def agi_urls(self) -> list[str]:
        return [f"agi://{host}:{AGI_PORT}" for host in self.engine_hosts]

    def node(self, name: str) -> Testbed:
        bed = self.nodes.get(name)
        if bed is None:
            bed = Testbed(
                run_dir=self.run_dir / name,
                ami_port=AMI_PORT,
                sip_port=SIP_PORT,
                ami_secret=self.ami_secret,
                rootfs=self.root,
                host=self.node_hosts[name],
                system_name=name,
                agi_urls=self.agi_urls(),
                trunk_match=PROXY_HOST,
                agent_proxy=self.proxy_uri,
                shared_root=True,
                max_load="32.0",
            )
            self.nodes[name] = bed
        return bed

    # ---- settings for the engines ----
    def engine_env(self, index: int = 0) -> dict[str, str]:
        """Engine `index` (0: the first, 1: the standby) of this cluster."""
        first = self.node(next(iter(self.node_hosts)))
        host = self.engine_hosts[index]
        return {
            "CALLCENTER_NODES": ",".join(
                f"{name}={addr}:{AMI_PORT}" for name, addr in self.node_hosts.items()
            ),
            "CALLCENTER_AMI_HOST": first.host,
            "CALLCENTER_AMI_PORT": str(AMI_PORT),
            "CALLCENTER_AMI_USER": first.ami_user,
            "CALLCENTER_AMI_SECRET": self.ami_secret,
            "CALLCENTER_AGI_HOST": host,
            "CALLCENTER_AGI_PORT": str(AGI_PORT),
            "CALLCENTER_API_HOST": host,
            "CALLCENTER_API_PORT": str(API_PORT),
            "CALLCENTER_AGENT_PROXY": "proxy",
            "CALLCENTER_SIP_HOST": PROXY_HOST,
            "CALLCENTER_RUN_DIR": str(self.run_dir),
            # prompts as the nodes see them (node a synthesized them; every node reads them)
            "CALLCENTER_PROMPT_DIR": str(first.run_dir / "prompts"),
            "CALLCENTER_ASTERISK_CONF_DIR": str(first.conf_dir),
            "CALLCENTER_WRITER_SPOOL": str(self.run_dir / f"engine{index}" / "writer.sqlite3"),
            "CALLCENTER_PEER_SPOOLS": ",".join(
                str(self.run_dir / f"engine{other}" / "writer.sqlite3")
                for other in range(len(self.engine_hosts))
                if other != index
            ),
            "CALLCENTER_ENGINE_NAME": f"engine{index}",
        }

    # ---- lifecycle ----
    def start(self) -> None:
        self.run_dir = self.run_dir.resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cleanup_stale()
        try:
            self._mount()
            for name in self.node_hosts:
                self.node(name).start()
            self._start_kamailio()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._stop_kamailio()
        for bed in self.nodes.values():
            bed.stop()
        self._unmount()

    @contextlib.contextmanager
    def running(self) -> Iterator[Cluster]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def cleanup_stale(self) -> None:
        self._kill_pidfile(self.run_dir / "kamailio" / "kamailio.pid", b"kamailio")
        for name in self.node_hosts:
            self.node(name).cleanup_stale()

    def kill_node(self, name: str) -> None:
        """SIGKILL an Asterisk node, as a crash would."""
        bed = self.nodes[name]
        pid = int((bed.run_dir / "run" / "asterisk.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        proc = bed._asterisk
        if proc is not None:
            proc.wait(timeout=10)
            bed._asterisk = None

    def _mount(self) -> None:
        proc_dir = self.root / "proc"
        if not _mounted(proc_dir):
            subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)
        inside = self.root / str(self.run_dir).lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        if not _mounted(inside):
            subprocess.run(["mount", "--bind", str(self.run_dir), str(inside)], check=True)

    def _unmount(self) -> None:
        if self.rootfs is None:
            return
        for path in (self.root / str(self.run_dir).lstrip("/"), self.root / "proc"):
            while _mounted(path):
                if subprocess.run(["umount", str(path)], check=False).returncode != 0:
                    subprocess.run(["umount", "-l", str(path)], check=False)
                    break

    def _start_kamailio(self) -> None:
        sys.path.insert(0, str(REPO))
        from callcenter.telephony.render import render_kamailio

        conf = self.run_dir / "kamailio"
        (conf / "run").mkdir(parents=True, exist_ok=True)
        values = {
            "SIP_BIND": PROXY_HOST,
            "SIP_PORT": str(SIP_PORT),
            "RUN_DIR": str(conf),
            "MODULE_DIR": KAMAILIO_MODULES,
        }
        nodes = [f"sip:{bed.host}:{bed.sip_port}" for bed in self.nodes.values()]
        render_kamailio(conf, values, nodes)
        log = (conf / "kamailio.log").open("ab")
        self._kamailio = subprocess.Popen(
            [
                "chroot",
                str(self.root),
                "/usr/sbin/kamailio",
                "-f",
                str(conf / "kamailio.cfg"),
                "-P",
                str(conf / "kamailio.pid"),
                "-DD",
                "-E",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not _options_answered(PROXY_HOST, SIP_PORT, 20):
            tail = (conf / "kamailio.log").read_text(errors="replace")[-3000:]
            raise TestbedError(f"Kamailio did not answer OPTIONS within 20 s:\n{tail}")

    def _stop_kamailio(self) -> None:
        proc = self._kamailio
        self._kamailio = None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._kill_pidfile(self.run_dir / "kamailio" / "kamailio.pid", b"kamailio")

    @staticmethod
    def _kill_pidfile(pidfile: Path, name: bytes) -> None:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, FileNotFoundError):
            if name in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    time.sleep(0.1)
                    os.kill(pid, 0)
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            pidfile.unlink()

    # ---- phones ----
    def register_agent(self, endpoint: str, contact_port: int) -> None:
        """An agent's softphone registers with Kamailio; an agent_answer phone on
        AGENT_HOST:contact_port takes the calls."""
        out = self.node(next(iter(self.node_hosts))).sipp(
            "agent_register_proxy",
            [f"{PROXY_HOST}:{SIP_PORT}", "-m", "1", "-p", "0", "-timeout", "10s"],
            {"USER": endpoint, "CONTACT_PORT": str(contact_port)},
            local_ip=AGENT_HOST,
        )
        if out.returncode != 0:
            raise TestbedError(f"agent {endpoint} did not register: {out.stdout[-1500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sip_testbed.cluster")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    state = run_dir / "cluster.json"
    if args.action == "up":
        cluster = Cluster(run_dir=run_dir)
        cluster.start()
        state.write_text(json.dumps({"rootfs": str(cluster.root), **cluster.engine_env()}))
        state.chmod(0o600)
        print(f"cluster up: Kamailio {cluster.proxy_uri}, nodes {cluster.node_hosts}")
        return 0
    rootfs = Path(json.loads(state.read_text())["rootfs"]) if state.exists() else None
    cluster = Cluster(run_dir=run_dir, rootfs=rootfs)
    if rootfs is not None:
        cluster.cleanup_stale()
        cluster._unmount()
    state.unlink(missing_ok=True)
    print("cluster down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
