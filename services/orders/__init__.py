"""Orders write service: create and cancel orders."""
