"""Command line: run the engine, migrate, issue tokens, create users, render config, check flows."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.domain.access import Role
from callcenter.settings import DatabaseSettings, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from callcenter.storage.spool import Spool


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


async def _run(settings: Settings) -> int:
    from callcenter.app import Application
    from callcenter.domain.errors import InvalidCalendar, InvalidFlows

    try:
        app = Application(settings)
    except InvalidCalendar as err:
        # a malformed calendar file stops start-up with the file and line, like a bad setting
        print(f"callcenter: working-day calendar: {err}", file=sys.stderr)
        return 2
    try:
        return await app.serve()
    except InvalidFlows as err:
        # so does a broken flow file: one file:line line per problem
        print(f"callcenter: IVR flows are broken, not starting:\n{err}", file=sys.stderr)
        await app.db.dispose()
        return 2


def _say(message: str) -> None:
    print(f"callcenter: {message}", file=sys.stderr)


async def _migrate(settings: DatabaseSettings) -> int:
    from callcenter.storage.db import make_engine, migrate, schema_revision

    engine = make_engine(settings.database_url)
    try:
        before = await schema_revision(engine)
        await migrate(engine)
        after = await schema_revision(engine)
    finally:
        await engine.dispose()
    where = shown_url(settings.database_url)
    if before is None:
        _say(f"{where} was empty: created the schema (revision {after})")
    elif before != after:
        _say(f"{where}: schema brought from revision {before} to {after}")
    else:
        _say(f"{where}: schema already at revision {after}")
    return 0


async def _create_token(
    settings: DatabaseSettings, name: str, role: Role, subject: str | None
) -> int:
    from callcenter.app import utcnow
    from callcenter.storage.db import make_engine, make_sessions, migrate, schema_revision
    from callcenter.storage.tokens import TokenRepository

    engine = make_engine(settings.database_url)
    try:
        empty = await schema_revision(engine) is None
        await migrate(engine)
        tokens = TokenRepository(make_sessions(engine))
        token = await tokens.create(name, role, utcnow(), subject)
    finally:
        await engine.dispose()
    print(token, flush=True)
    where = shown_url(settings.database_url)
    if empty:
        _say(f"{where} was empty (no engine has used it yet): created the schema")
    _say(f"the token is in {where}")
    _say(await asyncio.to_thread(engine_verdict, settings.api_host, settings.api_port, token))
    return 0


def _read_password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        # scripts pipe the password in, so it never shows in the process list
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("callcenter: the two passwords differ")
    return first


async def _create_user(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    from callcenter.app import utcnow
    from callcenter.domain.errors import DomainError
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.users import UserRepository

    password = _read_password(args.password)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        users = UserRepository(make_sessions(engine), settings.login_policy)
        account = await users.create(
            args.username,
            password,
            Role(args.role),
            utcnow(),
            display_name=args.display_name,
            subject=args.subject,
            actor="cli",
        )
    except DomainError as err:
        print(f"callcenter: {err.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"user {account.username} ({account.role.value}) created")
    return 0


async def _archive_tickets(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    from callcenter.app import utcnow
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.ticket_archive import TicketArchive

    days = args.after_days or settings.ticket_archive_after_days
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        archive = TicketArchive(make_sessions(engine), utcnow, days, batch=args.batch)
        done = await archive.run(max_batches=args.max_batches)
    finally:
        await engine.dispose()
    print(
        f"moved {done.moved} tickets closed before {done.cutoff.isoformat()} "
        f"({days} days) to the archive in {done.batches} batches"
    )
    return 0


async def _rebuild_ticket_figures(settings: DatabaseSettings) -> int:
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.ticket_figures import rebuild

    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessions(engine).begin() as session:
            rows = await rebuild(session)
    finally:
        await engine.dispose()
    print(f"ticket statistics recounted from the assignments: {rows} rows kept")
    return 0


def shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def engine_verdict(host: str, port: int, token: str) -> str:
    """Ask the engine at the API address whether it knows a token just written: an engine on
    another database answers 401, whatever the route."""
    import urllib.error
    import urllib.request

    url = f"http://{host}:{port}"
    request = urllib.request.Request(
        f"{url}/calls?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=3):
            status = 200
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        return f"no engine answers at {url}; one started on this database will know the token"
    if status == 401:
        return (
            f"WARNING: the engine running at {url} does not know this token: it serves "
            "another database (set CALLCENTER_DATABASE_URL as the engine has it)"
        )
    if status in (200, 403):  # 403: known, only not allowed to read calls
        return f"the engine running at {url} accepts the token"
    return f"what answers at {url} is not this engine's API (HTTP {status})"


def _dead_letters(settings: Settings, replay: list[str] | None) -> int:
    """List the records the database refused (the writer's dead letters), or write them again."""
    from callcenter.storage.spool import Spool

    if not settings.spool_path.exists():
        print(f"{settings.spool_path}: no journal yet, so no dead letters")
        return 0
    spool = Spool(settings.spool_path)
    try:
        if replay is None:
            letters = spool.dead_letters()
            for letter in letters:
                print(f"{letter.id}\t{letter.at.isoformat()}\t{letter.kind}\t{letter.error}")
                print(f"\t{letter.payload!r}")
            print(f"{len(letters)} dead letter(s) in {settings.spool_path}")
            return 0
        ids = None if replay == ["all"] else [int(i) for i in replay]
        return asyncio.run(_replay(settings, spool, ids))
    finally:
        spool.close()


async def _replay(settings: Settings, spool: Spool, ids: list[int] | None) -> int:
    from callcenter.services.writer import replay_dead_letters
    from callcenter.storage.db import make_engine, make_sessions
    from callcenter.storage.writes import SINKS

    engine = make_engine(settings.database_url)
    try:
        results = await replay_dead_letters(make_sessions(engine), SINKS, spool, ids)
    finally:
        await engine.dispose()
    for letter_id, error in results:
        print(f"{letter_id}\t{'written' if error is None else 'refused again: ' + error}")
    return 0 if all(error is None for _, error in results) else 1


def _render(settings: Settings, out: Path, module_dir: str, data_dir: str) -> int:
    from callcenter.telephony.render import render

    values = settings.asterisk_values(module_dir=module_dir, data_dir=data_dir)
    for path in render(out, values):
        print(path)
    return 0


def _check_flows(paths: list[Path], prompts: Path | None) -> int:
    """Check flow folders and single flow files; a file is checked with the catalogue and the
    flows beside it (a flow may lead to its siblings), and only its own problems are shown."""
    from callcenter.telephony.flow_registry import CATALOGUE_NAME, FLOW_SUFFIXES, check_directory

    failed = 0
    for path in paths:
        if path.is_dir():
            directory, only = path, None
        elif path.is_file() and path.suffix in FLOW_SUFFIXES:
            directory = path.parent
            catalogue = prompts or directory / CATALOGUE_NAME
            # the catalogue itself is checked together with every flow that uses it
            only = None if path.resolve() == catalogue.resolve() else path
        else:
            print(f"callcenter: {path}: no such directory or flow file (.yaml)", file=sys.stderr)
            return 2
        flows, problems = check_directory(directory, prompts)
        if only is not None:
            mine = {str(only), str(prompts or directory / CATALOGUE_NAME)}
            problems = [p for p in problems if p.source in mine]
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
            failed += 1
        elif only is not None:
            print(f"{path}: flow {only.stem!r} valid")
        else:
            print(f"{path}: {len(flows)} flow(s) valid: {', '.join(sorted(flows))}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the engine (AMI client, FastAGI server, HTTP API)")
    sub.add_parser("migrate", help="bring the database schema to the latest revision")
    sub.add_parser("check-settings", help="validate CALLCENTER_* settings and exit")
    token = sub.add_parser("create-token", help="issue an API token (printed once)")
    token.add_argument("--name", required=True)
    token.add_argument("--role", required=True, choices=[role.value for role in Role])
    token.add_argument(
        "--subject", help="agent id (role agent) or department code (role department)"
    )
    user = sub.add_parser(
        "create-user", help="create a person's account (logs in with name and password)"
    )
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=[role.value for role in Role])
    user.add_argument(
        "--subject", help="agent id (role agent) or department code (role department)"
    )
    user.add_argument("--display-name", default="")
    user.add_argument(
        "--password", help="the password (default: asked for, or read from standard input)"
    )
    archive = sub.add_parser(
        "archive-tickets",
        help="move tickets closed long ago to the archive tables (batched; safe to rerun)",
    )
    archive.add_argument(
        "--after-days",
        type=int,
        help="closed more than this many days ago (default CALLCENTER_TICKET_ARCHIVE_AFTER_DAYS)",
    )
    archive.add_argument("--batch", type=int, default=1000, help="tickets per transaction")
    archive.add_argument("--max-batches", type=int, help="stop after this many batches")
    sub.add_parser(
        "rebuild-ticket-figures",
        help="recount the kept ticket statistics from the assignments (after hand edits)",
    )
    render = sub.add_parser("render-asterisk", help="write Asterisk configuration for settings")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--module-dir", default="/usr/lib/x86_64-linux-gnu/asterisk/modules")
    render.add_argument("--data-dir", default="/usr/share/asterisk")
    kamailio = sub.add_parser(
        "render-kamailio", help="write Kamailio's configuration for a cluster of Asterisk nodes"
    )
    kamailio.add_argument("--out", type=Path, required=True)
    kamailio.add_argument(
        "--node", action="append", required=True, help="an Asterisk node: sip:host:port"
    )
    kamailio.add_argument("--listen", required=True, help="the address Kamailio listens on")
    kamailio.add_argument("--port", default="5060")
    kamailio.add_argument("--run-dir", default="/run/kamailio")
    kamailio.add_argument("--module-dir", default="/usr/lib/x86_64-linux-gnu/kamailio/modules")
    flows = sub.add_parser(
        "check-flows", help="validate IVR flow files or folders and the prompt catalogue"
    )
    flows.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="flow folders or flow files (default ivr_flows/)",
    )
    flows.add_argument(
        "--prompts", type=Path, help="prompt catalogue (default prompts.yaml beside the flows)"
    )
    dead = sub.add_parser(
        "dead-letters", help="list the records the database refused, or --replay them"
    )
    dead.add_argument("--replay", nargs="+", metavar="ID", help="letter ids, or 'all'")
    args = parser.parse_args(argv)

    if args.command == "render-kamailio":
        # the SIP proxy's files: no engine settings needed
        from callcenter.telephony.render import render_kamailio

        values = {
            "SIP_BIND": args.listen,
            "SIP_PORT": args.port,
            "RUN_DIR": args.run_dir,
            "MODULE_DIR": args.module_dir,
        }
        for path in render_kamailio(args.out, values, args.node):
            print(path)
        return 0
    if args.command == "check-flows":
        # an operator's check: needs no engine settings (no AMI secret) and no logging set-up
        return _check_flows(args.paths or [Path("ivr_flows")], args.prompts)

    database_only = (
        "migrate",
        "create-token",
        "create-user",
        "archive-tickets",
        "rebuild-ticket-figures",
    )
    if args.command in database_only:
        # commands that only touch the database need no telephony settings (no AMI secret)
        try:
            database = load_settings(DatabaseSettings)
        except SettingsError as err:
            print(f"callcenter: {err}", file=sys.stderr)
            return 2
        _configure_logging(database.log_level)
        if args.command == "migrate":
            return asyncio.run(_migrate(database))
        if args.command == "create-user":
            return asyncio.run(_create_user(database, args))
        if args.command == "rebuild-ticket-figures":
            return asyncio.run(_rebuild_ticket_figures(database))
        if args.command == "archive-tickets":
            if (args.after_days is not None and args.after_days < 1) or args.batch < 1:
                print("callcenter: --after-days and --batch must be positive", file=sys.stderr)
                return 2
            return asyncio.run(_archive_tickets(database, args))
        return asyncio.run(_create_token(database, args.name, Role(args.role), args.subject))

    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"callcenter: {err}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)

    if args.command == "run":
        return asyncio.run(_run(settings))
    if args.command == "check-settings":
        print("settings are valid")
        return 0
    if args.command == "dead-letters":
        return _dead_letters(settings, args.replay)
    if args.command == "render-asterisk":
        return _render(settings, args.out, args.module_dir, args.data_dir)
    parser.error(f"unknown command {args.command}")
    return 2
