"""`make bench`: SPEC §9 targets measured at full size against baselines taken in the same run.

Nothing here is imported by the service; no test asserts a timing (the pure
helpers are unit-tested in tests/unit/test_bench.py). Results go to
``docs/benchmarks.md`` and ``docs/benchmarks.json`` (``python -m bench.run --help``).
"""
