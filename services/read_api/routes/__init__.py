"""The read API's routers, one per resource (GET only)."""
