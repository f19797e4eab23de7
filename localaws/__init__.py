"""Local doubles of AWS for tests, benchmarks and the demo. Never used against real AWS.

Each double binds 127.0.0.1 on a free port, is started and stopped by the
test or script that uses it, and documents what it does not model.
"""
