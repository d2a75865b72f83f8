"""The REST API (placeholder)."""
