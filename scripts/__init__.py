"""Operator commands: `python -m scripts <command> --help`."""
