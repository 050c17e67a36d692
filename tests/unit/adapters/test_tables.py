"""The stored lead: a small header line the rebuild reads alone, then the state."""

import orjson

from stream.adapters.tables import StoredLead, decode
from stream.domain.lead import LeadState


def stored() -> StoredLead:
    state = LeadState(lead_id="L", created_at=100.0, attributes={"source": "web"})
    return StoredLead(
        partition=3,
        wakeup=400.0,
        open_clock=[100.0, "r-1", 400.0],
        upcoming={"obligation": "br-x", "generation": 0, "due": 398.0, "value": {"stage": "breach"}},
        rep_day={"rep": "r-1"},
        detections=[["r-1", "2026-12-01", "first_response", "warning"]],
        segment=["web", "2026-12-01", {"leads": 1}, 100.0],
        state=state,
    )


def test_a_stored_lead_round_trips():
    lead = stored()
    back = StoredLead.decode(lead.encode())
    assert back == lead
    assert decode(lead.encode()) == lead.state
    assert StoredLead.decode(None) is None


def test_the_header_is_read_without_the_state():
    raw = stored().encode()
    head, _, body = raw.partition(b"\n")
    assert b"lead_id" not in head and orjson.loads(body)["lead_id"] == "L"
    header_only = StoredLead.decode(raw, with_state=False)
    assert header_only.state is None and header_only.wakeup == 400.0 and header_only.partition == 3


def test_values_written_before_the_header_had_its_own_line_still_read():
    old = orjson.dumps({"p": 1, "w": 5.0, "o": [1.0, "r-1"], "r": None, "s": LeadState(lead_id="L").to_dict()})
    lead = StoredLead.decode(old)
    assert lead.partition == 1 and lead.wakeup == 5.0 and lead.state.lead_id == "L" and lead.upcoming is None
