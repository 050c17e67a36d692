"""`make bench`: SPEC §9 targets measured against baselines taken in the same run.

Nothing here is imported by the service or asserted by a test; results go to
``docs/benchmarks.md`` (see ``python -m bench.run --help``).
"""
