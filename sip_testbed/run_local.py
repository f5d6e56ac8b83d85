"""`make run`: the engine with its embedded defaults, ready to take calls.

Brings up the testbed Asterisk unless CALLCENTER_AMI_HOST points at another one, uses the SQLite
default database unless CALLCENTER_DATABASE_URL says otherwise, issues an admin API token on the
first run, prints how to call in, and runs the engine until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from sip_testbed.testbed import DEFAULT_RUN_DIR, REPO, Testbed

TOKEN_FILE = REPO / "var" / "admin-token"


def _admin_token(env: dict[str, str]) -> str | None:
    """Issue one admin token the first time; later runs only point at the file."""
    if TOKEN_FILE.exists():
        return None
    out = subprocess.run(
        [sys.executable, "-m", "callcenter", "create-token", "--name", "admin", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = out.stdout.strip()
    TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    TOKEN_FILE.write_text(token + "\n")
    TOKEN_FILE.chmod(0o600)
    return token


def main() -> int:
    env = dict(os.environ)
    bed: Testbed | None = None
    if "CALLCENTER_AMI_HOST" not in env:
        bed = Testbed(run_dir=DEFAULT_RUN_DIR)
        state = DEFAULT_RUN_DIR / "testbed.json"
        if state.exists():  # keep the secret of a testbed left up by `make testbed-up`
            bed.ami_secret = json.loads(state.read_text())["CALLCENTER_AMI_SECRET"]
        bed.start()
        env.update(bed.engine_env())
    env.setdefault("CALLCENTER_DATABASE_URL", f"sqlite+aiosqlite:///{REPO / 'var' / 'cc.sqlite3'}")
    try:
        token = _admin_token(env)
        api = f"http://{env.get('CALLCENTER_API_HOST', '127.0.0.1')}:"
        api += env.get("CALLCENTER_API_PORT", "8012")
        print("\n12345 engine starting")
        print(f"  API docs:   {api}/docs")
        print(f"  wallboard:  {api}/wallboard#token=<a supervisor or admin token>")
        if token:
            print(f"  admin API token (shown once, also in {TOKEN_FILE}): {token}")
        else:
            print(f"  admin API token: see {TOKEN_FILE}")
        # the same database and settings as this engine (the AMI secret is only validated)
        cli = " ".join(
            f"{key}={shlex.quote(env[key])}"
            for key in ("CALLCENTER_DATABASE_URL", "CALLCENTER_AMI_SECRET")
            if key in env
        )
        cli += " .venv/bin/python -m callcenter create-user"
        print("  people log in with a name and password; create the first admin and agent with")
        print(f"    {cli} --username admin --role admin")
        print(f"    {cli} --username a01 --role agent --subject a01 --display-name 张三")
        print("    (each asks for the password; an agent's subject is its agent id)")
        print(f"  agent desk: {api}/desk")
        if bed is not None:
            uri = f"sip:12345@127.0.0.1:{bed.sip_port}"
            print(f"  call in:    point a SIP phone on this host at {uri}")
            print("              (the trunk accepts calls from 127.0.0.1), or with SIPp:")
            print(f"              chroot {bed.root} sipp -sn uac -s 12345 127.0.0.1:{bed.sip_port}")
            print("                -i 127.0.0.1 -p 5090 -m 1 -d 5000")
        print("  stop:       Ctrl-C\n", flush=True)
        return subprocess.run([sys.executable, "-m", "callcenter", "run"], env=env).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if bed is not None:
            bed.stop()


if __name__ == "__main__":
    sys.exit(main())
