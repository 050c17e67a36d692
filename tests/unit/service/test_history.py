"""Reading history files as a stream: lead events and roster records, the
reasons for invalid lines, and the temporary files of the offline commands."""

from __future__ import annotations

import orjson
import pytest

from schemas.reps import RepRecord
from stream.service.history import ScanCounts, Spill, parse_record, scan_history

CREATED = {"event_id": "c1", "lead_id": "L1", "occurred_at": "2026-03-02T10:00:00Z", "source": "web"}


def test_a_line_is_a_lead_event_or_a_roster_record():
    topic, event = parse_record(orjson.dumps({"topic": "lead-created", "value": CREATED}))
    assert topic == "lead-created" and event.lead_id == "L1"
    record = parse_record(b'{"topic": "reps", "value": {"rep_id": "r1", "timezone": "UTC"}}')
    assert isinstance(record, RepRecord) and record.rep_id == "r1"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"{nope", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"topic": "sla-breaches", "value": {}}', "unknown topic 'sla-breaches'"),
        (b'{"topic": "reps", "value": []}', "reps: value must be a JSON object"),
        (b'{"topic": "reps", "value": {"timezone": "UTC"}}', "reps: rep_id"),
        (b'{"topic": "lead-created", "value": {"event_id": "c"}}', "lead-created: lead_id"),
    ],
)
def test_what_is_wrong_with_a_line_is_said(line, why):
    with pytest.raises(ValueError, match=why.replace("[", r"\[")):
        parse_record(line)


def test_scanning_a_file_counts_and_reports_what_it_skips(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_bytes(
        b'{"topic": "reps", "value": {"rep_id": "r1"}}\n\n   \n'
        + orjson.dumps({"topic": "lead-created", "value": CREATED})
        + b"\r\n{broken\n"
    )
    counts, problems = ScanCounts(), []
    scanned = list(scan_history(path, counts, lambda n, why: problems.append(n)))
    assert [s.number for s in scanned] == [1, 4] and scanned[1].raw.endswith(b"}")
    assert (counts.reps, counts.events, counts.invalid) == (1, 1, 1) and problems == [5]


def test_spilled_lines_come_back_in_order_and_are_removed(tmp_path):
    with Spill(tmp_path) as spill:
        for i in range(3):
            spill.append("a", b"line %d" % i)
        spill.append("b", b"other")
        assert list(spill.lines("a")) == [b"line 0", b"line 1", b"line 2"]
        spill.append("a", b"line 3")  # appending reopens
        assert list(spill.lines("a"))[-1] == b"line 3"
        assert list(spill.lines("never")) == []
        folder = spill.folder
    assert not folder.exists()
