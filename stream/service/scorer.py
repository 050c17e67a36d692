"""The scorer the worker uses: the segment model when it is available."""

from __future__ import annotations

from typing import Any

from stream.policy import Policy
from stream.service.leads import LeadScore, Scorer


def build_scorer(policy: Policy) -> Scorer:
    threshold = policy.scoring.workable_threshold

    def threshold_only(attributes: dict[str, Any], content_types: list[str]) -> LeadScore:
        workable = threshold == 0
        reasons = ("workable_threshold is 0: every lead is workable",) if workable else ()
        return LeadScore(0.0, workable, "unknown", reasons)

    return threshold_only
