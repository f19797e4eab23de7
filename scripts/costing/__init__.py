"""Cost and capacity: price book, monthly cost and break-even against per-token APIs, load tests."""
