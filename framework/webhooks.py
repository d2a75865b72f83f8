"""Webhooks (placeholder)."""
