"""The Sales & Marketing SLA as a live stream."""
