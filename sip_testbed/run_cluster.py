"""`make run-cluster`: Kamailio, two Asterisk nodes and two engines (active and standby).

The engines elect their leader through PostgreSQL: CALLCENTER_DATABASE_URL, by default the
database `callcenter_cluster` on 127.0.0.1:5432 (created when missing). Runs until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import asyncpg

from sip_testbed.cluster import CITIZEN_HOST, PROXY_HOST, SIP_PORT, Cluster
from sip_testbed.cluster_run import ClusterRun, admin_token
from sip_testbed.testbed import REPO

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/callcenter_cluster"


async def _ensure_database(url: str) -> None:
    plain = url.replace("+asyncpg", "")
    base, _, name = plain.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def main() -> int:
    url = os.environ.get("CALLCENTER_DATABASE_URL", DEFAULT_URL)
    await _ensure_database(url)
    cluster = Cluster(run_dir=REPO / "var" / "cluster")
    work = REPO / "var" / "cluster-engines"
    work.mkdir(parents=True, exist_ok=True)
    with cluster.running():
        run = ClusterRun(cluster, url, work, engines=2)
        run.token = await admin_token(url)
        try:
            await run.start(agents=0)
            token_file = work / "admin-token"
            token_file.write_text(run.token + "\n")
            token_file.chmod(0o600)
            print("\n12345 cluster up")
            print(f"  Kamailio:   sip:{PROXY_HOST}:{SIP_PORT} (trunk calls in, agents register)")
            for name, bed in cluster.nodes.items():
                print(
                    f"  node {name}:     Asterisk SIP {bed.host}:{bed.sip_port}, AMI {bed.ami_port}"
                )
            for engine in run.engines:
                print(f"  engine:     {engine.api} (log {engine.log})")
            print(f"  leader:     {(await run.leader()).api}; the other is the standby")
            print(f"  database:   {url}")
            print(f"  admin token in {token_file}")
            print(
                f"  call in:    chroot {cluster.root} sipp -sn uac -s 12345 {PROXY_HOST}:{SIP_PORT}"
            )
            print(f"                -i {CITIZEN_HOST} -p 5090 -m 1 -d 5000")
            print("  stop:       Ctrl-C\n", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            run.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
