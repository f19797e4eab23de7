"""Typed, validated models of the user's files. Importing any of them completes `Environment`,
whose `component_endpoints` are defined in config/components.py (which imports config.environment)."""

from config import components  # noqa: F401,E402
