-- The schemas, as database/roles.secure_database made them on 2026-12-06.
create schema if not exists raw authorization cqrsw_ingest;
create schema if not exists staging authorization cqrsw_dbt;
create schema if not exists intermediate authorization cqrsw_dbt;
create schema if not exists marts authorization cqrsw_dbt;
create schema if not exists serving authorization cqrsw_publisher;
create schema if not exists ops authorization cqrsw_publisher;
