"""Read API: serves the published warehouse views, filtered by the caller's JWT subject."""
