"""The weekly SMarketing report (``python -m stream report``, docs/report.md).

``weekly`` computes the figures from per-rep day buckets, ``sources`` gets
those buckets from a history file (through the backtest) or from running
workers, and ``html`` / ``markdown`` / ``charts`` draw them. Nothing here
runs at import.
"""
