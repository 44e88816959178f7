"""``cqrsw``: operator commands (stack, db, ingest, outbox, dbt, publish, token, demo)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError
from rich.markup import escape

from config.settings import ConfigurationError, settings_or_exit
from contracts.catalog import PRODUCERS, TOPICS
from cqrsw import loadgen_command, observe, stack_command
from cqrsw.arguments import aware_time
from cqrsw.terminal import console
from database.names import SERVICE_DATABASES
from ingest.batches import DeadlineExceeded
from ingest.job import IngestBusy
from ingest.positions import IngestError
from stack.processes import StackError

_settings = settings_or_exit


def cmd_ingest(args: argparse.Namespace) -> int:
    from config import tracing
    from ingest.job import run_ingest
    from ingest.progress import print_report, progress_bar

    settings = _settings()
    tracing.configure(settings, "ingest")
    topics = tuple(args.topic) if args.topic else TOPICS
    with progress_bar(console) as on_progress:
        report = run_ingest(
            settings, topics=topics, batch_size=args.batch_size, on_progress=on_progress
        )
    print_report(console, report)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from database import connections
    from services import outbox

    settings = _settings()
    if args.action == "replay":
        with connections.connect(settings, args.service) as conn:
            n = outbox.replay(conn, args.since)
        console.print(f"{args.service}: {n} events marked for re-publication since {args.since}")
        return 0
    pool = connections.open_pool(settings, args.service, max_size=2)
    try:
        published = outbox.Relay(settings, pool).drain()
    finally:
        pool.close()
    console.print(f"{args.service}: published {published} events")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from cqrsw import dead_letters

    return dead_letters.run(_settings(), args, console)


def cmd_event_keys(args: argparse.Namespace) -> int:
    import orjson

    from contracts.key_files import TRUSTED_FILE, ensure_local_keys, new_key_file
    from contracts.signatures import public_jwk

    if args.action == "folder":
        ensure_local_keys(args.path)
        print(f"{args.path}: <producer>.pem for {', '.join(PRODUCERS)}; {TRUSTED_FILE}")
        return 0
    trusted = new_key_file(args.path, args.producer)
    print(orjson.dumps(public_jwk(trusted)).decode())  # the entry to add to the trusted set
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from pipeline.dbt import run_dbt

    run_dbt(_settings(), *args.dbt_args)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from database import migrate

    settings = _settings()
    revisions = migrate.upgrade(settings) if args.action == "upgrade" else migrate.current(settings)
    for dbname, revision in revisions.items():
        console.print(f"{dbname}: {revision or 'not migrated'}")
    return 0


def cmd_publish(_: argparse.Namespace) -> int:
    from pipeline.steps import gated_publish

    gate, published = gated_publish(_settings())
    console.print(f"quality gate passed; Data Docs: {gate['data_docs']}")
    for view, rows in published.items():
        console.print(f"serving.{view}: {rows} rows written")
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from pipeline.steps import run_pipeline

    if args.action == "audit":
        from pipeline.audit import AuditFailed, run_audit

        try:
            run_audit(_settings())
        except AuditFailed as exc:
            console.print(f"[red]AuditFailed:[/red] {escape(str(exc))}", highlight=False)
            return 1
        console.print("audit: every check passed on every row")
        return 0

    def show(step: str, result: Any) -> None:
        if step == "ingest":
            console.print(f"ingest: {result['messages']} messages")
        elif step == "validate":
            console.print(f"validate: passed (Data Docs: {result['data_docs']})")
        elif step == "publish":
            rows = ", ".join(f"{view} {n}" for view, n in result.items())
            console.print(f"publish: rows written: {rows}")
        elif step == "record freshness":
            console.print(f"freshness: newest event {result['lag_seconds']} s old")
        elif step == "data docs":
            console.print(f"data docs: {result}")
        else:
            console.print(f"{step}: ok")

    run_pipeline(_settings(), show)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from services.tokens import CUSTOMER, issue_token

    roles = args.role or [CUSTOMER]
    try:
        print(issue_token(_settings(), args.subject, roles=roles, ttl_s=args.ttl))
    except RuntimeError as exc:  # RS256: tokens come from the identity provider
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_token_keys(args: argparse.Namespace) -> int:
    from services.tokens import make_signing_keys

    try:
        private, jwks = make_signing_keys(Path(args.folder), args.kid, args.algorithm)
    except FileExistsError as exc:
        print(f"token-keys: {exc.filename} exists; keys are never overwritten", file=sys.stderr)
        return 2
    print(f"private key (the issuer's only, CQRSW_JWT_PRIVATE_KEY_FILE): {private}")
    print(f"public keys (the services', CQRSW_JWT_JWKS_FILE): {jwks}")
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from cqrsw.demo import run_demo

    return run_demo(_settings(), console)


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cqrsw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    stack_command.add_parser(sub)
    loadgen_command.add_parsers(sub)

    p = sub.add_parser("ingest", help="sink the Kafka topics into the raw warehouse tables")
    p.add_argument("--topic", action="append", choices=TOPICS, help="only this topic (repeatable)")
    p.add_argument("--batch-size", type=int, default=5000, choices=range(1, 100_001), metavar="N")
    p.add_argument(
        "--workers", type=int, choices=range(1, 65), metavar="N",
        help="processes to split the partitions over (default: by backlog and cores)",
    )  # fmt: skip
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("outbox", help="publish or re-publish a service's outbox")
    p.add_argument("action", choices=["relay", "replay"])
    p.add_argument("--service", required=True, choices=SERVICE_DATABASES)
    p.add_argument("--since", type=aware_time, help="replay: re-publish events recorded since then")
    p.set_defaults(func=cmd_outbox)

    from cqrsw.dead_letters import add_parser as add_dead_letters

    add_dead_letters(sub).set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("event-keys", help="the write services' event signing keys")
    keys = p.add_subparsers(dest="action", required=True)
    k = keys.add_parser(
        "new", help="new signing key of a producer (file 0600); prints its trusted JWK"
    )
    k.add_argument("producer", choices=PRODUCERS)
    k.add_argument("path", type=Path, help="where the private key goes (never overwritten)")
    k.set_defaults(func=cmd_event_keys)
    k = keys.add_parser(
        "folder",
        help="every producer's key (<producer>.pem, 0600) and their public keys"
        " (trusted.jwks.json) in one folder, made if missing, kept if there",
    )
    k.add_argument("path", type=Path, help="the folder (0700)")
    k.set_defaults(func=cmd_event_keys)

    p = sub.add_parser("db", help="versioned schema migrations of the project's databases")
    p.add_argument(
        "action", choices=["upgrade", "current"],
        help="upgrade: every database to its newest revision; current: each one's revision",
    )  # fmt: skip
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("dbt", help="run a dbt command against the warehouse")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_dbt)

    p = sub.add_parser(
        "publish", help="run the quality gate, then publish the marts to `serving` if it passed"
    )
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("pipeline", help="one pass as the DAG runs it")
    p.add_argument(
        "action",
        choices=["run", "audit"],
        help="run: ingest, dbt build, gate, publish, freshness; audit: every check on every row",
    )
    p.set_defaults(func=cmd_pipeline)

    from services.tokens import ROLES

    p = sub.add_parser(
        "token", help="issue a JWT (HS256; RS256/ES256 with CQRSW_JWT_PRIVATE_KEY_FILE)"
    )
    p.add_argument("subject")
    p.add_argument(
        "--role",
        action="append",
        choices=ROLES,
        help="a role the token grants; repeat for several (default: customer)",
    )
    p.add_argument("--ttl", type=_positive_int, default=3600, help="lifetime in seconds")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser(
        "token-keys", help="make an issuer's key pair: a private key and the public JWKS"
    )
    p.add_argument("folder", help="where to write <kid>.pem (mode 0600) and jwks.json")
    p.add_argument("--kid", default="cqrsw-1", type=str, help="the key's id (default: cqrsw-1)")
    p.add_argument("--algorithm", choices=("ES256", "RS256"), default="ES256")
    p.set_defaults(func=cmd_token_keys)

    p = sub.add_parser("demo", help="run the whole pipeline end to end on the embedded stack")
    p.set_defaults(func=cmd_demo)
    observe.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "outbox" and args.action == "replay" and args.since is None:
        build_parser().error("outbox replay needs --since")
    try:
        code: int = args.func(args)
    except StackError as exc:
        console.print(f"[red]stack error[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: what this call started was stopped again")
        return 130
    except ConfigurationError as exc:  # e.g. prod without its event keys
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        return 2
    except (IngestBusy, DeadlineExceeded, IngestError, KafkaError) as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}", highlight=False)
        return 1
    except Exception as exc:
        from pipeline.dbt import DbtFailed
        from pipeline.publish import PublishFailed
        from quality.gate import DataQualityFailed

        if isinstance(exc, DbtFailed | DataQualityFailed | PublishFailed):
            console.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}", highlight=False)
            console.print("[red]nothing was published[/red]")
            return 1
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
