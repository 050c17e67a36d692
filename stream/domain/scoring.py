"""Lead scoring: fit (the segment's closed-loop value) plus intent (content downloaded).

``score = min(100, fit_weight × fit + min(intent_weight, Σ content weights))``

- ``fit`` in 0..1 is ``r / (1 + r)`` with ``r`` = the segment's smoothed value
  per lead ÷ the overall value per lead: an average segment gets 0.5, a segment
  worth nothing 0, a segment worth far more than average approaches 1.
  Segments without ``scoring.min_mature_leads`` mature leads, segments the table
  does not know, and every segment when no table is loaded (or the history has
  no opportunity value) get the neutral 0.5.
- Intent points are ``scoring.content_weights`` (else ``default_content_weight``)
  summed over the *distinct* content types downloaded — a repeated download of
  a type adds nothing — and capped at ``intent_weight``.

``fit_weight`` and ``intent_weight`` are the most points each part can give;
they normally add up to 100.

Workable (SPEC §5): ``score >= scoring.workable_threshold`` and the segment not
unprofitable. ``workable_threshold = 0`` makes every lead workable, even in an
unprofitable segment. The score is rounded to 1 decimal before the comparison.
Pure and deterministic: the same inputs give the same score and reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stream.domain.segments import Prior, SegmentStats, SegmentTable, SegmentView, segment_key

if TYPE_CHECKING:
    from stream.policy import ScoringPolicy

NEUTRAL_FIT = 0.5


@dataclass(frozen=True, slots=True)
class LeadScore:
    score: float  # 0..100, 1 decimal
    workable: bool
    segment: str
    reasons: tuple[str, ...]


def _points(value: float) -> str:
    return f"{value:.1f}"


def _fit(
    segment: str,
    view: SegmentView | None,
    prior: Prior,
    have_table: bool,
    policy: ScoringPolicy,
) -> tuple[float, str]:
    """(fit in 0..1, the reason's opening words)."""
    if not have_table and view is None:
        return NEUTRAL_FIT, f"segment {segment}: no segment table loaded, neutral fit"
    if view is None:
        return NEUTRAL_FIT, f"segment {segment}: not in the segment table, neutral fit"
    if view.mature_leads < policy.min_mature_leads:
        return NEUTRAL_FIT, (
            f"segment {segment}: {view.mature_leads} mature leads (< {policy.min_mature_leads}),"
            f" overall value per lead {_points(prior.value_per_lead)} applies"
        )
    if prior.value_per_lead <= 0:
        return NEUTRAL_FIT, f"segment {segment}: no opportunity value in the history, neutral fit"
    ratio = max(0.0, view.value_per_lead) / prior.value_per_lead
    return ratio / (1.0 + ratio), (
        f"segment {segment}: value per lead {_points(view.value_per_lead)}"
        f" vs overall {_points(prior.value_per_lead)}"
    )


def score_lead(
    attributes: Mapping[str, Any] | object,
    content_types: Sequence[str],
    policy: ScoringPolicy,
    segments: SegmentTable | None = None,
    *,
    live: SegmentStats | None = None,
) -> LeadScore:
    """Score one lead.

    ``attributes``: the lead-created fields (a mapping or a ``LeadCreated``);
    ``content_types``: the types downloaded so far, in event-time order;
    ``segments``: the segments file (None: every segment is unknown, neutral fit);
    ``live``: the worker's current ``SegmentStats`` for this lead's segment, which
    then replaces the file's row (value and verdict) — the prior stays the file's.
    """
    segment = segment_key(attributes, policy.segment_by)
    prior = segments.prior if segments is not None else Prior()
    view = segments.get(segment) if segments is not None else None
    if live is not None:
        view = live.view(prior, policy)
    fit, fit_reason = _fit(segment, view, prior, segments is not None or live is not None, policy)

    fit_max = float(policy.fit_weight)
    intent_max = float(policy.intent_weight)
    fit_points = fit_max * fit
    reasons = [f"{fit_reason} (fit {_points(fit_points)}/{fit_max:g})"]

    intent_points = 0.0
    seen: set[str] = set()
    for content_type in content_types:
        if content_type in seen:
            continue
        seen.add(content_type)
        weight = policy.content_weights.get(content_type, policy.default_content_weight)
        added = min(intent_max, intent_points + weight) - intent_points
        intent_points += added
        capped = "" if added == weight else f", intent capped at {intent_max:g}"
        reasons.append(f"downloaded {content_type} (+{_points(added)} intent{capped})")
    if not seen:
        reasons.append(f"no content downloaded (intent 0.0/{intent_max:g})")

    score = round(min(100.0, max(0.0, fit_points + intent_points)), 1)
    threshold = policy.workable_threshold
    unprofitable = view is not None and view.profitable is False
    if threshold == 0:
        workable = True
        if unprofitable:
            reasons.append(f"segment {segment} is unprofitable, but workable_threshold 0 makes every lead workable")
        else:
            reasons.append("workable_threshold 0: every lead is workable")
    elif unprofitable:
        workable = False
        assert view is not None
        profit = "" if view.profit_per_lead is None else f" (profit per lead {_points(view.profit_per_lead)})"
        reasons.append(f"segment {segment} is unprofitable{profit}: not workable whatever the score")
    elif score >= threshold:
        workable = True
        reasons.append(f"score {_points(score)} >= threshold {threshold:g}: workable")
    else:
        workable = False
        reasons.append(f"score {_points(score)} < threshold {threshold:g}: not workable")
    return LeadScore(score=score, workable=workable, segment=segment, reasons=tuple(reasons))
