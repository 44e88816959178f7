"""The gateway's routing file filled in for the local stack, and the image's roles (no IO)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from cqrsw.container import SERVICES, airflow_environment, initialise, main
from stack import gateway
from stack.gateway import TEMPLATE, local_values, render
from stack.lifecycle import Stack
from stack.processes import StackError


def test_local_routes_point_at_the_local_ports() -> None:
    settings = Settings(orders_port=9101, read_api_port=9100, gateway_port=9190)
    routes = render(TEMPLATE.read_text(), local_values(settings))
    assert "listen 127.0.0.1:9190;" in routes
    assert "server 127.0.0.1:9101;" in routes and "server 127.0.0.1:9100;" in routes
    assert "${" not in routes
    assert "$http_x_request_id" in routes  # nginx's own variables are left alone
    assert "set_real_ip_from unix:;" in routes  # the edge: no proxy names the client


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(StackError, match="GATEWAY_LISTEN, ORDERS_UPSTREAM"):
        render("listen ${GATEWAY_LISTEN}; server ${ORDERS_UPSTREAM};", {})


def test_every_service_is_a_role_of_the_image_listening_on_all_interfaces() -> None:
    assert set(SERVICES) == {"orders", "invoices", "stock", "read-api"}
    argv = SERVICES["read-api"].uvicorn_argv(Settings(read_api_port=8123), host="0.0.0.0")
    assert argv[-6:-2] == ["--host", "0.0.0.0", "--port", "8123"]
    assert "services.read_api.app:create_app" in argv


def test_airflow_settings_given_to_a_container_win_over_the_local_ones() -> None:
    env = airflow_environment(
        Settings(
            database_url="postgresql://u:p@db:5432/postgres",
            jwt_secret="x" * 32,
            pg_password_airflow="airflow-pw",
            pg_password_dbt="dbt-pw",
        ),
        {"AIRFLOW__API__HOST": "0.0.0.0", "PATH": "/bin"},
    )
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert "cqrsw_airflow:airflow-pw@db:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_an_unknown_role_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-role-xyz"]) == 2
    assert "no such role or command: 'no-such-role-xyz'" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "read-api" in capsys.readouterr().out


def test_init_refuses_to_run_on_embedded_engines() -> None:
    with pytest.raises(SystemExit, match="CQRSW_DATABASE_URL and CQRSW_KAFKA_BOOTSTRAP_SERVERS"):
        initialise(Settings(kafka_bootstrap_servers="kafka:9092", jwt_secret="x" * 32))


def test_without_nginx_the_stack_says_the_gateway_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(gateway, "nginx_binary", lambda: None)
    started: list[str] = []
    where = Stack(Settings(state_dir=tmp_path)).start_gateway(started)
    assert where.startswith("gateway skipped: nginx is not installed")
    assert started == []
