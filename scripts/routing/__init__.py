"""`route`: change who answers the applications that use the client (scripts/commands/route.py)."""
