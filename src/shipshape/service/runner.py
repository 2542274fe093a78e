"""Placeholder replaced by the production layer."""
