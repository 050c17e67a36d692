"""The policy file (SPEC §6): the defaults, the spec's example and the shipped
policy load; every invalid policy is refused with a message naming the key."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from stream.policy import Policy, PolicyError, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = ROOT / "deploy" / "policy" / "default.toml"

# SPEC §6, verbatim.
SPEC_EXAMPLE = """\
[response]
deadline_seconds = 300
business_hours = true
allowed_lateness_seconds = 2
reengage_content_types = ["demo_request", "pricing"]
escalation = [{ at = 0.8, stage = "warning" }, { at = 1.0, stage = "breach" }, { at = 3.0, stage = "escalation" }]

[attempts]
required = 6
window_days = 10
max_gap_hours = 0            # 0 = off

[marketing]
workable_leads_per_rep_per_month = 100
pacing_warning_ratio = 0.8

[scoring]
workable_threshold = 50      # 0 makes every lead workable
segment_by = ["source", "company_size_band", "persona"]

[calendar]
timezone = "America/New_York"
working_hours = "09:00-17:00"
working_days = ["mon", "tue", "wed", "thu", "fri"]
holidays_country = "US"

[[reps]]
rep_id = "r-001"
team = "east"
timezone = "America/New_York"
"""


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(text: str, tmp_path: Path) -> str:
    """The error message for a policy file holding ``text``."""
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    return str(info.value)


def assert_names_key(message: str, key: str) -> None:
    """The message names ``key`` as the key of one of its lines, after the file name."""
    pattern = rf"(^|: ){re.escape(key)}: "
    assert re.search(pattern, message, re.MULTILINE), f"{key!r} not named in:\n{message}"


# -- what loads -------------------------------------------------------------------------


def test_defaults_load_without_a_file():
    policy = load_policy(None)
    assert policy == Policy()
    assert policy.response.deadline_seconds == 300
    assert policy.response.business_hours is True
    assert policy.response.allowed_lateness_seconds == 2
    assert policy.response.reengage_content_types == ["demo_request", "pricing"]
    assert [(s.at, s.stage) for s in policy.response.escalation] == [
        (0.8, "warning"),
        (1.0, "breach"),
        (3.0, "escalation"),
    ]
    assert (policy.attempts.required, policy.attempts.window_days, policy.attempts.max_gap_hours) == (6, 10, 0)
    assert policy.marketing.workable_leads_per_rep_per_month == 100
    assert policy.marketing.pacing_warning_ratio == 0.8
    assert policy.scoring.workable_threshold == 50
    assert policy.scoring.segment_by == ["source", "company_size_band", "persona"]
    assert policy.scoring.segments_file is None
    assert policy.calendar.timezone == "America/New_York"
    assert policy.calendar.working_hours == "09:00-17:00"
    assert policy.calendar.working_days == ["mon", "tue", "wed", "thu", "fri"]
    assert policy.calendar.holidays_country == "US"
    assert policy.reps == []


def test_an_empty_file_is_the_defaults(tmp_path):
    assert load_policy(write(tmp_path, "")) == Policy()


def test_the_spec_example_loads_and_equals_the_defaults_plus_its_rep(tmp_path):
    policy = load_policy(write(tmp_path, SPEC_EXAMPLE))
    assert policy.model_dump(exclude={"reps"}) == Policy().model_dump(exclude={"reps"})
    (rep,) = policy.reps
    assert (rep.rep_id, rep.team, rep.timezone, rep.active) == ("r-001", "east", "America/New_York", True)
    assert policy.rep("r-001") is rep
    assert policy.rep("r-999") is None


@pytest.mark.skipif(not DEFAULT_POLICY.exists(), reason="no deploy/policy/default.toml")
def test_the_shipped_policy_loads():
    policy = load_policy(DEFAULT_POLICY)
    assert policy.response.deadline_seconds > 0
    assert len({rep.rep_id for rep in policy.reps}) == len(policy.reps)
    for rep in policy.reps:
        assert rep.as_record().rep_id == rep.rep_id


def test_load_policy_takes_a_str_path(tmp_path):
    assert load_policy(str(write(tmp_path, "[response]\ndeadline_seconds = 60\n"))).response.deadline_seconds == 60


def test_partial_sections_keep_the_other_defaults(tmp_path):
    policy = load_policy(write(tmp_path, "[response]\ndeadline_seconds = 120\n[calendar]\ntimezone = 'UTC'\n"))
    assert policy.response.deadline_seconds == 120
    assert policy.response.business_hours is True
    assert policy.calendar.timezone == "UTC"
    assert policy.calendar.working_hours == "09:00-17:00"


def test_escalation_steps_are_sorted_by_at(tmp_path):
    policy = load_policy(
        write(
            tmp_path,
            '[response]\nescalation = [{ at = 3.0, stage = "escalation" }, { at = 1, stage = "breach" },'
            ' { at = 0.5, stage = "warning" }]\n',
        )
    )
    assert [(s.at, s.stage) for s in policy.response.escalation] == [
        (0.5, "warning"),
        (1.0, "breach"),
        (3.0, "escalation"),
    ]


def test_relative_segments_file_resolves_against_the_policy_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(folder, '[scoring]\nsegments_file = "data/segments.json"\n')
    assert load_policy(path).scoring.segments_file == folder / "data" / "segments.json"
    # Also when the policy path itself is relative.
    relative = Path("..") / "conf" / "policy.toml"
    assert load_policy(relative).scoring.segments_file == Path("..") / "conf" / "data" / "segments.json"


def test_absolute_segments_file_is_kept(tmp_path):
    target = tmp_path / "abs" / "segments.json"
    path = write(tmp_path, f'[scoring]\nsegments_file = "{target.as_posix()}"\n')
    assert load_policy(path).scoring.segments_file == target


def test_policy_dates_and_periods(tmp_path):
    policy = load_policy(
        write(
            tmp_path,
            """
[calendar]
holidays = ["2026-12-24", 2026-12-31]
out_of_office = [{ start = "2026-12-28T00:00:00-05:00", end = 2027-01-02T00:00:00-05:00 }]

[[reps]]
rep_id = "r-1"
holidays = ["2026-08-14"]
holidays_country = ""
""",
        )
    )
    assert policy.calendar.holidays == [date(2026, 12, 24), date(2026, 12, 31)]
    (period,) = policy.calendar.out_of_office
    assert period.start == datetime(2026, 12, 28, 5, tzinfo=timezone.utc)
    assert period.end == datetime(2027, 1, 2, 5, tzinfo=timezone.utc)
    assert policy.reps[0].holidays == [date(2026, 8, 14)]
    assert policy.reps[0].holidays_country == ""  # explicitly none, not the [calendar] default


def test_the_limits_themselves_are_allowed(tmp_path):
    policy = load_policy(
        write(
            tmp_path,
            "[marketing]\npacing_warning_ratio = 1\nworkable_leads_per_rep_per_month = 0\n"
            "[scoring]\nworkable_threshold = 0\n[response]\nallowed_lateness_seconds = 0\n",
        )
    )
    assert policy.marketing.pacing_warning_ratio == 1
    assert policy.scoring.workable_threshold == 0


def test_policy_is_frozen():
    policy = load_policy(None)
    with pytest.raises(Exception):
        policy.response.deadline_seconds = 1  # type: ignore[misc]


# -- what is refused, and the key named ----------------------------------------------------

INVALID = [
    # (id, TOML, key the message must name)
    ("unknown-stage", '[response]\nescalation = [{ at = 1.0, stage = "panic" }]', "response.escalation[0].stage"),
    (
        "unknown-stage-second",
        '[response]\nescalation = [{ at = 1.0, stage = "breach" }, { at = 2.0, stage = "alarm" }]',
        "response.escalation[1].stage",
    ),
    ("stage-twice", '[response]\nescalation = [{ at = 1, stage = "breach" }, { at = 2, stage = "breach" }]',
     "response.escalation"),
    ("escalation-at-zero", '[response]\nescalation = [{ at = 0, stage = "breach" }]', "response.escalation[0].at"),
    ("escalation-unknown-key", '[response]\nescalation = [{ at = 1, stage = "breach", after = 2 }]',
     "response.escalation[0].after"),
    ("negative-deadline", "[response]\ndeadline_seconds = -5", "response.deadline_seconds"),
    ("zero-deadline", "[response]\ndeadline_seconds = 0", "response.deadline_seconds"),
    ("infinite-deadline", "[response]\ndeadline_seconds = inf", "response.deadline_seconds"),
    ("nan-deadline", "[response]\ndeadline_seconds = nan", "response.deadline_seconds"),
    ("deadline-as-text", '[response]\ndeadline_seconds = "300"', "response.deadline_seconds"),
    ("deadline-as-bool", "[response]\ndeadline_seconds = true", "response.deadline_seconds"),
    ("business-hours-as-text", '[response]\nbusiness_hours = "no"', "response.business_hours"),
    ("negative-lateness", "[response]\nallowed_lateness_seconds = -1", "response.allowed_lateness_seconds"),
    ("reengage-not-a-list", '[response]\nreengage_content_types = "pricing"', "response.reengage_content_types"),
    ("typo-in-key", "[response]\ndeadline_secnds = 300", "response.deadline_secnds"),
    ("typo-in-section", "[respons]\ndeadline_seconds = 300", "respons"),
    ("unknown-top-level-key", "deadline_seconds = 300", "deadline_seconds"),
    ("section-not-a-table", "response = 5", "response"),
    ("zero-attempts", "[attempts]\nrequired = 0", "attempts.required"),
    ("fractional-attempts", "[attempts]\nrequired = 6.5", "attempts.required"),
    ("zero-window", "[attempts]\nwindow_days = 0", "attempts.window_days"),
    ("negative-gap", "[attempts]\nmax_gap_hours = -1", "attempts.max_gap_hours"),
    ("pacing-above-1", "[marketing]\npacing_warning_ratio = 1.2", "marketing.pacing_warning_ratio"),
    ("pacing-negative", "[marketing]\npacing_warning_ratio = -0.1", "marketing.pacing_warning_ratio"),
    ("negative-target", "[marketing]\nworkable_leads_per_rep_per_month = -1",
     "marketing.workable_leads_per_rep_per_month"),
    ("threshold-above-100", "[scoring]\nworkable_threshold = 101", "scoring.workable_threshold"),
    ("unknown-segment-attribute", '[scoring]\nsegment_by = ["source", "colour"]', "scoring.segment_by[1]"),
    ("confidence-of-1", "[scoring]\nverdict_confidence = 1", "scoring.verdict_confidence"),
    ("negative-content-weight", "[scoring]\ncontent_weights = { blog = -5 }", "scoring.content_weights.blog"),
    ("bad-time-zone", '[calendar]\ntimezone = "Mars/Olympus_Mons"', "calendar.timezone"),
    ("time-zone-abbreviation", '[calendar]\ntimezone = "EST5EDT_X"', "calendar.timezone"),
    ("empty-time-zone", '[calendar]\ntimezone = ""', "calendar.timezone"),
    ("bad-working-hours", '[calendar]\nworking_hours = "nine to five"', "calendar.working_hours"),
    ("reversed-working-hours", '[calendar]\nworking_hours = "17:00-09:00"', "calendar.working_hours"),
    ("hour-25", '[calendar]\nworking_hours = "09:00-25:00"', "calendar.working_hours"),
    ("overlapping-shifts", '[calendar]\nworking_hours = "09:00-13:00,12:00-17:00"', "calendar.working_hours"),
    ("bad-weekday", '[calendar]\nworking_days = ["monday"]', "calendar.working_days[0]"),
    ("unknown-holidays-country", '[calendar]\nholidays_country = "XX"', "calendar.holidays_country"),
    ("bad-holiday-date", '[calendar]\nholidays = ["24/12/2026"]', "calendar.holidays[0]"),
    (
        "out-of-office-backwards",
        '[calendar]\nout_of_office = [{ start = "2026-12-28T00:00:00Z", end = "2026-12-27T00:00:00Z" }]',
        "calendar.out_of_office",
    ),
    (
        "out-of-office-naive",
        '[calendar]\nout_of_office = [{ start = "2026-12-28T00:00:00", end = "2026-12-29T00:00:00Z" }]',
        "calendar.out_of_office[0].start",
    ),
    ("rep-bad-time-zone", '[[reps]]\nrep_id = "r-1"\ntimezone = "Europe/Atlantis"', "reps[0].timezone"),
    (
        "second-rep-bad-time-zone",
        '[[reps]]\nrep_id = "r-1"\n[[reps]]\nrep_id = "r-2"\ntimezone = "Nowhere"',
        "reps[1].timezone",
    ),
    ("rep-bad-working-hours", '[[reps]]\nrep_id = "r-1"\nworking_hours = "9-5"', "reps[0].working_hours"),
    ("rep-bad-weekday", '[[reps]]\nrep_id = "r-1"\nworking_days = ["fri", "caturday"]', "reps[0].working_days[1]"),
    ("rep-unknown-key", '[[reps]]\nrep_id = "r-1"\ntz = "UTC"', "reps[0].tz"),
    ("rep-without-id", '[[reps]]\nteam = "east"', "reps[0].rep_id"),
    ("rep-empty-id", '[[reps]]\nrep_id = ""', "reps[0].rep_id"),
    ("rep-id-too-long", f'[[reps]]\nrep_id = "{"r" * 129}"', "reps[0].rep_id"),
    ("rep-id-a-number", "[[reps]]\nrep_id = 1", "reps[0].rep_id"),
    ("rep-negative-target", '[[reps]]\nrep_id = "r-1"\nmonthly_workable_target = -1', "reps[0].monthly_workable_target"),
    ("rep-active-as-text", '[[reps]]\nrep_id = "r-1"\nactive = "yes"', "reps[0].active"),
    ("duplicate-rep", '[[reps]]\nrep_id = "r-1"\n[[reps]]\nrep_id = "r-2"\n[[reps]]\nrep_id = "r-1"', "reps[2].rep_id"),
]


@pytest.mark.parametrize("text,key", [pytest.param(t, k, id=i) for i, t, k in INVALID])
def test_invalid_policy_is_refused_naming_the_key(text, key, tmp_path):
    message = refused(text + "\n", tmp_path)
    assert_names_key(message, key)
    # The file is named too, so the operator knows which file to fix.
    assert message.startswith(str(tmp_path / "policy.toml") + ": ")


def test_duplicate_rep_message_names_the_rep(tmp_path):
    message = refused('[[reps]]\nrep_id = "r-1"\n[[reps]]\nrep_id = "r-1"\n', tmp_path)
    assert message == f"{tmp_path / 'policy.toml'}: reps[1].rep_id: duplicate rep 'r-1'"


def test_unknown_key_says_it_is_unknown(tmp_path):
    message = refused("[response]\ndeadline_secnds = 300\n", tmp_path)
    assert "response.deadline_secnds: unknown key" in message


def test_bad_time_zone_message_quotes_the_value(tmp_path):
    message = refused('[calendar]\ntimezone = "Mars/Olympus_Mons"\n', tmp_path)
    assert "calendar.timezone: unknown IANA time zone 'Mars/Olympus_Mons'" in message


def test_every_error_is_reported_at_once(tmp_path):
    message = refused('[response]\ndeadline_seconds = -1\n[calendar]\ntimezone = "Nowhere"\n', tmp_path)
    assert_names_key(message, "response.deadline_seconds")
    assert_names_key(message, "calendar.timezone")
    assert len(message.splitlines()) == 2


def test_bad_toml_syntax_is_refused_with_the_file_and_position(tmp_path):
    message = refused("[response\ndeadline_seconds = 300\n", tmp_path)
    assert str(tmp_path / "policy.toml") in message
    assert "not valid TOML" in message
    assert "line 1" in message


def test_duplicate_toml_key_is_refused(tmp_path):
    message = refused("[response]\ndeadline_seconds = 300\ndeadline_seconds = 60\n", tmp_path)
    assert "not valid TOML" in message


def test_missing_file_names_sla_policy_file(tmp_path):
    with pytest.raises(PolicyError, match=r"^SLA_POLICY_FILE: no such file .*nope\.toml"):
        load_policy(tmp_path / "nope.toml")


def test_a_folder_names_sla_policy_file(tmp_path):
    with pytest.raises(PolicyError, match=r"^SLA_POLICY_FILE: cannot read"):
        load_policy(tmp_path)


def test_a_binary_file_names_sla_policy_file(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\xff\xfe[response]\n")
    with pytest.raises(PolicyError, match=r"^SLA_POLICY_FILE: .* is not UTF-8"):
        load_policy(path)


def test_parse_policy_names_its_origin():
    with pytest.raises(PolicyError, match=r"^inline: response\.deadline_seconds: "):
        parse_policy({"response": {"deadline_seconds": 0}}, "inline")
    with pytest.raises(PolicyError, match=r"^policy: calendar\.timezone: "):
        parse_policy({"calendar": {"timezone": "Nowhere"}})


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)


# -- [notifier] ---------------------------------------------------------------------------


def test_the_notifier_is_off_without_its_section(tmp_path):
    assert load_policy(None).notifier.enabled is False
    assert load_policy(write(tmp_path, "[response]\ndeadline_seconds = 60\n")).notifier.enabled is False


def test_a_notifier_section_turns_it_on_with_the_defaults(tmp_path):
    notifier = load_policy(write(tmp_path, "[notifier]\n")).notifier
    assert notifier.enabled is True
    assert notifier.url_env == "SLA_NOTIFIER_URL"
    assert notifier.format == "slack"
    assert notifier.stages == ["breach", "escalation"]
    assert notifier.breach_types == ["first_response", "attempt_cadence", "marketing_shortfall"]
    assert notifier.timeout_seconds == 10
    assert notifier.max_backoff_seconds == 60


def test_the_spec_notifier_example_loads(tmp_path):
    notifier = load_policy(
        write(
            tmp_path,
            '[notifier]                   # optional: post breaches to a webhook\n'
            'url_env = "SLA_NOTIFIER_URL" # the URL comes from this environment variable\n'
            'format = "slack"             # or "json"\n'
            'stages = ["breach", "escalation"]\n',
        )
    ).notifier
    assert (notifier.enabled, notifier.url_env, notifier.format) == (True, "SLA_NOTIFIER_URL", "slack")


def test_every_notifier_key(tmp_path):
    notifier = load_policy(
        write(
            tmp_path,
            '[notifier]\nurl_env = "TEAM_HOOK"\nformat = "json"\nstages = ["warning", "retracted"]\n'
            'breach_types = ["attempt_cadence"]\ntimeout_seconds = 2.5\nmax_backoff_seconds = 30\n',
        )
    ).notifier
    assert notifier.url_env == "TEAM_HOOK"
    assert notifier.format == "json"
    assert notifier.stages == ["warning", "retracted"]
    assert notifier.breach_types == ["attempt_cadence"]
    assert (notifier.timeout_seconds, notifier.max_backoff_seconds) == (2.5, 30)


def test_enabled_false_keeps_the_settings_but_turns_the_notifier_off(tmp_path):
    notifier = load_policy(write(tmp_path, '[notifier]\nenabled = false\nformat = "json"\n')).notifier
    assert notifier.enabled is False and notifier.format == "json"


@pytest.mark.skipif(not DEFAULT_POLICY.exists(), reason="no deploy/policy/default.toml")
def test_the_shipped_policy_shows_the_notifier_with_its_defaults_but_off():
    notifier = load_policy(DEFAULT_POLICY).notifier
    assert notifier.enabled is False
    assert notifier.model_dump(exclude={"enabled"}) == Policy().notifier.model_dump(exclude={"enabled"})


NOTIFIER_INVALID = [
    ("unknown-stage", '[notifier]\nstages = ["breach", "panic"]', "notifier.stages[1]"),
    ("no-stages", "[notifier]\nstages = []", "notifier.stages"),
    ("unknown-breach-type", '[notifier]\nbreach_types = ["late_lunch"]', "notifier.breach_types[0]"),
    ("no-breach-types", "[notifier]\nbreach_types = []", "notifier.breach_types"),
    ("unknown-format", '[notifier]\nformat = "teams"', "notifier.format"),
    ("url-in-the-file", '[notifier]\nurl = "https://hooks.example.com/x"', "notifier.url"),
    ("url-env-not-a-name", '[notifier]\nurl_env = "https://hooks.example.com/x"', "notifier.url_env"),
    ("url-env-empty", '[notifier]\nurl_env = ""', "notifier.url_env"),
    ("zero-timeout", "[notifier]\ntimeout_seconds = 0", "notifier.timeout_seconds"),
    ("timeout-as-text", '[notifier]\ntimeout_seconds = "10"', "notifier.timeout_seconds"),
    ("negative-backoff", "[notifier]\nmax_backoff_seconds = -1", "notifier.max_backoff_seconds"),
    ("enabled-as-text", '[notifier]\nenabled = "yes"', "notifier.enabled"),
    ("notifier-not-a-table", "notifier = true", "notifier"),
]


@pytest.mark.parametrize("text,key", [pytest.param(t, k, id=i) for i, t, k in NOTIFIER_INVALID])
def test_invalid_notifier_section_is_refused_naming_the_key(text, key, tmp_path):
    assert_names_key(refused(text + "\n", tmp_path), key)
