"""The wallboard in headless Chromium against a worker fed with events: an
uncontacted lead appears (never its email), the team filter keeps it or
leaves it out, and it disappears once called. The page fits a 1080p TV
without scrolling sideways and loads nothing from elsewhere."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.browser import browser_page
from tests.support.events import call, download, lead, now
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

# Plain time, so the test does not depend on the hour; every lead workable.
POLICY = """
[response]
deadline_seconds = 600
business_hours = false

[scoring]
workable_threshold = 0

[[reps]]
rep_id = "r-east"
team = "east"
timezone = "America/New_York"

[[reps]]
rep_id = "r-west"
team = "west"
timezone = "America/Los_Angeles"
"""
EMAIL = "dana.scully@fbi.example"


def waiting_leads(page) -> list[str]:
    return page.locator("table.waiting tbody tr td:first-child").all_inner_texts()


def reload_until(page, url: str, predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if predicate():
            return
        assert time.monotonic() < deadline, f"timed out on {url}: {page.content()[:2000]}"
        time.sleep(0.5)


def test_an_uncontacted_lead_appears_then_disappears_once_called(start_workers):
    (worker,) = start_workers(POLICY)
    lead_id = "lead-tv-1"
    started = now()
    produce(worker.bootstrap, [
        (worker.topic("lead-created"), lead_id, lead(lead_id, started, owner="r-east", email=EMAIL,
                                                     country="US", persona="director")),
        (worker.topic("content-downloaded"), lead_id, download(lead_id, started, "demo_request")),
    ])
    base = worker.url("/wallboard")
    with browser_page(width=1920, height=1080) as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        reload_until(page, base, lambda: lead_id in waiting_leads(page))
        row = page.locator("table.waiting tbody tr", has_text=lead_id).inner_text()
        assert "r-east" in row and "east" in row and "left" in row  # ten minutes to go
        content = page.content()
        assert EMAIL not in content and "scully" not in content
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        rep_row = page.locator("table.reps tbody tr", has_text="r-east").inner_text()
        assert rep_row.split()[:2] == ["r-east", "east"]
        # a TV cannot scroll sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 1920

        page.goto(base + "?team=east")
        assert lead_id in waiting_leads(page)
        assert page.locator("nav a[aria-current]").inner_text() == "east"
        page.goto(base + "?team=west")
        assert lead_id not in waiting_leads(page)
        assert page.locator("table.reps tbody tr").all_inner_texts()[0].startswith("r-west")

        # Playwright's sync API owns this thread's event loop: produce from another thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(produce, worker.bootstrap,
                        [(worker.topic("call-attempt"), lead_id, call(lead_id, now(), rep="r-east"))]).result()
        reload_until(page, base, lambda: lead_id not in waiting_leads(page))
        assert all(url.startswith(f"http://127.0.0.1:{worker.port}/") for url in requests), requests
