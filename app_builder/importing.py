"""Import screens (placeholder)."""
