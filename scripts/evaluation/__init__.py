"""Prove a version before it serves: evaluate an endpoint on a labeled dataset, compare it with a
hosted baseline, record the decision in the pin and the Model Registry, and compare a shadow
variant's captured answers with production's.

The commands (scripts/commands/evaluate.py, approve.py, shadow_report.py) are thin; the logic
lives here. Formats are documented in docs/evaluation.md.
"""
