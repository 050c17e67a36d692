"""The scorer the worker and ``backtest`` share: the closed-loop segment
model of ``scoring.segments_file`` (when set) plus intent from downloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream.domain.scoring import LeadScore, score_lead
from stream.domain.segments import SegmentStats, SegmentTable, SegmentTableError, segment_key
from stream.policy import Policy, PolicyError
from stream.service.leads import Scorer

# segment -> the live statistics the worker keeps for it (None: use the file's row)
LiveSegments = Callable[[str], SegmentStats | None]


def load_segments(policy: Policy) -> SegmentTable | None:
    """The segments file named by the policy; errors name the key."""
    path = policy.scoring.segments_file
    if path is None:
        return None
    try:
        return SegmentTable.load(path)
    except FileNotFoundError:
        raise PolicyError(f"scoring.segments_file: no such file {str(path)!r}") from None
    except (SegmentTableError, ValueError) as exc:
        raise PolicyError(f"scoring.segments_file: {path}: {exc}") from None


def build_scorer(
    policy: Policy, segments: SegmentTable | None = None, live: LiveSegments | None = None
) -> Scorer:
    scoring = policy.scoring
    table = segments if segments is not None else load_segments(policy)

    def scorer(attributes: dict[str, Any], content_types: list[str]) -> LeadScore:
        stats = live(segment_key(attributes, scoring.segment_by)) if live is not None else None
        return score_lead(attributes, content_types, scoring, table, live=stats)

    return scorer
