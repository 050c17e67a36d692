"""Chaos runs: SLA breaches through worker kills and broker restarts (``make chaos``)."""
