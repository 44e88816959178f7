"""The local stack: embedded PostgreSQL and Tansu, the services, Airflow, the gateway and
Prometheus, each a process marked by its state dir and port."""
