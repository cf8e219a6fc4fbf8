"""The entities service."""
