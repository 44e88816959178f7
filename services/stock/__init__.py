"""Stock write service, event-sourced: an append-only operation log per product, with snapshots."""
