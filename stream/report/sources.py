"""Where the weekly report's buckets come from.

* Offline, from a history file, through the same code as ``backtest`` (the
  streaming replay, :func:`stream.service.backtest.backtest_file`) and
  ``analyze`` (:func:`stream.service.closed_loop.analyze_file`).
* Live, from a running worker over HTTP: ``/sla/reps/buckets`` (every
  worker's day buckets, merged), ``/sla/reps`` (targets and the active
  roster as the workers see it) and ``/metrics`` (``sla_rep_info``: each
  rep's team from the ``reps`` topic and the policy). Calendars come from the
  policy (``--policy``): the ``reps`` topic's calendars are not served over
  HTTP, so a rep known only from the topic is counted on the ``[calendar]``
  default when the week's expected count is worked out.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from stream.domain.rep_stats import RepDay
from stream.policy import Policy
from stream.report.formats import instant
from stream.report.weekly import Week, WeeklyReport, build_weekly, last_complete_week
from stream.service.backtest import FileBacktest, active_reps, backtest_file, target_for
from stream.service.calendars import CalendarBook
from stream.service.closed_loop import AnalysisCounts, analyze_file
from stream.service.history import OnInvalid

# url -> response body; raises OSError (urllib.error.URLError included) when unreachable
Fetch = Callable[[str], bytes]


def _report_args(policy: Policy) -> dict[str, Any]:
    return {
        "deadline_seconds": policy.response.deadline_seconds,
        "business_hours": policy.response.business_hours,
        "pacing_warning_ratio": policy.marketing.pacing_warning_ratio,
    }


def from_history(
    path: str | Path,
    policy: Policy,
    *,
    week: Week | None = None,
    jobs: int = 1,
    on_invalid: OnInvalid | None = None,
    spill_dir: str | Path | None = None,
) -> tuple[WeeklyReport, FileBacktest]:
    """The report of ``week`` (default: the last complete week before the
    history's last event) as of the history's last event. ValueError for a
    history without a valid event; OSError when it cannot be read."""
    result = backtest_file(path, policy, on_invalid=on_invalid, jobs=jobs, spill_dir=spill_dir)
    if result.as_of is None:
        raise ValueError(f"{path}: no valid events")
    segments = analyze_file(path, policy, counts=AnalysisCounts(), spill_dir=spill_dir)
    calendars = result.calendars
    week = week or last_complete_week(result.as_of, calendars.default.zone)
    report = build_weekly(
        result.buckets.values(),
        week,
        result.as_of,
        calendar_for=calendars.calendar_for,
        target_for=target_for(policy, result.roster),
        team_for=calendars.team_of,
        reps=active_reps(policy, result.roster),
        source=f"history {Path(path).name} (backtest replay)",
        segments=[s.to_dict() for s in segments],
        segments_note=f"analyze of the same history, as of {instant(result.as_of)}",
        **_report_args(policy),
    )
    return report, result


def http_fetch(token: str | None = None, timeout: float = 10.0) -> Fetch:
    """A :data:`Fetch` over HTTP, with ``Authorization: Bearer`` when ``token`` is set."""

    def fetch(url: str) -> bytes:
        request = urllib.request.Request(url)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    return fetch


def rep_teams(metrics_text: str) -> dict[str, str | None]:
    """rep -> team from the ``sla_rep_info`` series of a ``/metrics`` page (``none``: no team)."""
    from prometheus_client.parser import text_string_to_metric_families

    teams: dict[str, str | None] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "sla_rep_info":
            continue
        for sample in family.samples:
            rep, team = sample.labels.get("rep"), sample.labels.get("team")
            if rep:
                teams[rep] = None if team in (None, "", "none") else team
    return teams


def _segments_file(policy: Policy) -> tuple[list[dict[str, Any]] | None, str]:
    path = policy.scoring.segments_file
    if path is None:
        return None, "no scoring.segments_file in the policy; run the report on a history for analyze's table"
    try:
        rows = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return None, f"scoring.segments_file {path}: {exc}"
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return None, f"scoring.segments_file {path}: not a list of segment rows"
    rows = sorted(rows, key=lambda r: str(r.get("segment")))
    as_of = max((str(r["as_of"]) for r in rows if r.get("as_of")), default=None)
    return rows, f"the segments file the workers score with ({Path(path).name}{f', as of {as_of}' if as_of else ''})"


def from_workers(url: str, policy: Policy, *, week: Week | None = None, fetch: Fetch | None = None) -> WeeklyReport:
    """The report of ``week`` (default: the last complete week) from the
    workers at ``url``, as of now (the workers' clock). OSError when the
    worker cannot be reached; ValueError when it answers something else."""
    fetch = fetch or http_fetch()
    base = url.rstrip("/")
    try:
        buckets_doc = orjson.loads(fetch(f"{base}/sla/reps/buckets"))
        reps_doc = orjson.loads(fetch(f"{base}/sla/reps"))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{base}: not JSON: {exc}") from None
    notes = []
    try:
        teams = rep_teams(fetch(f"{base}/metrics").decode("utf-8", "replace"))
    except OSError as exc:
        teams = {}
        notes.append(f"teams from the policy only: /metrics did not answer ({exc})")
    missing = sorted(set(buckets_doc.get("missing_workers") or ()) | set(reps_doc.get("missing_workers") or ()))
    if missing or not buckets_doc.get("complete", True):
        notes.append(f"partial figures: no answer from {', '.join(missing) or 'some workers'}")

    calendars = CalendarBook(policy)
    default_target = target_for(policy)
    targets = {m["rep"]: m.get("target") for m in (reps_doc.get("marketing") or {}).get("reps", ())}
    policy_teams = {rep.rep_id: rep.team for rep in policy.reps}

    def team_for(rep: str) -> str | None:
        return teams[rep] if rep in teams else policy_teams.get(rep)

    def target(rep: str) -> int | None:
        return targets[rep] if rep in targets else default_target(rep)

    as_of = float(buckets_doc["as_of"])
    week = week or last_complete_week(as_of, calendars.default.zone)
    segments, note = _segments_file(policy)
    return build_weekly(
        (RepDay.from_dict(b) for b in buckets_doc.get("buckets", ())),
        week,
        as_of,
        calendar_for=calendars.calendar_for,
        target_for=target,
        team_for=team_for,
        reps=[rep for rep in targets if rep != "unassigned"],
        source=f"live workers at {base}",
        segments=segments,
        segments_note=note,
        notes=notes,
        **_report_args(policy),
    )
