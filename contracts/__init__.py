"""The event contracts: JSON Schemas here, and the code that builds, checks and upcasts events."""
