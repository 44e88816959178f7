"""Entry point of the container image: one image, the role is chosen when it is started.

``python -m cqrsw.container ROLE [ARGS...]``: a service name starts that service on all
interfaces, ``init`` prepares the external PostgreSQL, Kafka and Airflow's database, ``metrics``
serves the pipeline exporter,
``airflow ARGS`` runs Airflow with this project's configuration, ``check-secrets`` checks the
secrets of the images that are not this one (PostgreSQL's, Grafana's) and exits, anything else
is executed. With ``CQRSW_ENV=prod`` every secret a container is given is checked first
(config.secret_checks): a placeholder, the public dev secret or a weak value stops it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence

from config.secret_checks import AIRFLOW_REQUIRED, environment_problems
from config.settings import Settings, settings_or_exit
from stack.http_services import HTTP_SERVICES

SERVICES = {service.role: service for service in HTTP_SERVICES}
USAGE = (
    f"roles: {', '.join(SERVICES)}, init, metrics, airflow ARGS..., check-secrets, or any command"
)
# Roles that need the `pipeline` extra (Airflow, dbt, Cosmos, Great Expectations): they run on
# the Dockerfile's `pipeline` target; every other role runs on the smaller `service` one.
PIPELINE_ROLES = frozenset({"init", "airflow"})


def refuse_weak_secrets(role: str, environ: dict[str, str]) -> None:
    """Exit 2 with one line per unfit secret this container was given (prod, or asked)."""
    if role != "check-secrets" and environ.get("CQRSW_ENV") != "prod":
        return
    problems = environment_problems(environ, AIRFLOW_REQUIRED if role == "airflow" else ())
    if problems:
        print(f"{role}: refused secrets: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(2)


def airflow_environment(settings: Settings, given: dict[str, str]) -> dict[str, str]:
    """The local stack's Airflow configuration; ``AIRFLOW__*`` given to the container win.

    Compose and Kubernetes set what differs across containers (API host, execution API URL,
    executor, shared JWT secret); everything else is written once, in ``stack.airflow``.
    """
    from stack.airflow import airflow_env

    env = airflow_env(settings)
    env.update({k: v for k, v in given.items() if k.startswith("AIRFLOW")})
    return env


def initialise(settings: Settings) -> None:
    """Roles, databases and their migrations, topics and Airflow's metadata: idempotent, run
    before the rest (the write services wait for their database's migrations)."""
    from stack.airflow import prepare_airflow
    from stack.lifecycle import Stack

    if settings.embedded_postgres or settings.embedded_kafka:
        raise SystemExit(
            "init: set CQRSW_DATABASE_URL and CQRSW_KAFKA_BOOTSTRAP_SERVERS (a container "
            "starts no embedded engine)"
        )
    stack = Stack(settings)
    stack.prepare_databases()
    stack.create_topics()
    prepare_airflow(settings)
    print("init: databases (migrated), topics and Airflow metadata are ready", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if args else 2
    role, rest = args[0], args[1:]
    refuse_weak_secrets(role, dict(os.environ))
    if role == "check-secrets":
        print("check-secrets: every secret given is fit for production", flush=True)
        return 0
    if role in PIPELINE_ROLES and importlib.util.find_spec("airflow") is None:
        print(
            f"role {role!r} needs the pipeline image (Dockerfile target `pipeline`);"
            " this one has only the services' dependencies",
            file=sys.stderr,
        )
        return 2
    if role in SERVICES:
        # On all interfaces: in a container the port is reached from other containers.
        command = SERVICES[role].uvicorn_argv(settings_or_exit(), host="0.0.0.0")  # noqa: S104
        command.append("--proxy-headers")
        os.execv(command[0], command)  # noqa: S606 the container's main process is the service
    if role == "init":
        initialise(settings_or_exit())
        return 0
    if role == "metrics":
        # The pipeline exporter (warehouse facts for Prometheus), reachable by other containers.
        cqrsw = os.path.join(os.path.dirname(sys.executable), "cqrsw")
        os.execv(cqrsw, [cqrsw, "metrics", "serve", "--host", "0.0.0.0", *rest])  # noqa: S104, S606
    if role == "airflow":
        from stack.airflow import AIRFLOW

        env = airflow_environment(settings_or_exit(), dict(os.environ))
        os.execve(AIRFLOW, [str(AIRFLOW), *rest], env)  # noqa: S606 replaced by Airflow
    try:
        os.execvp(role, args)  # noqa: S606 any other command, as `docker run IMAGE cmd` means
    except FileNotFoundError:
        print(f"no such role or command: {role!r}; {USAGE}", file=sys.stderr)
        return 2
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
