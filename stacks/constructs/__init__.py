"""One construct per file, named for what it deploys. Each exposes its L1 resources."""
