"""PostgreSQL access shared by every package: connections, databases, schema files."""
