"""The breach notifier: posts ``sla-breaches`` events to a webhook (docs/notifier.md).

It runs as a Faust task around a plain aiokafka consumer in a group of its
own, ``<app id>-notifier``: a webhook that is down holds back notifications
only, never SLA processing, and Faust's stall detection never sees it. Every
worker runs one; the group shares the partitions out.

Records are handled in order per partition, and an offset is committed only
once its event was posted (or refused for good, or skipped). A crash
therefore re-posts at most the events in flight, under the same event_id;
within a run, and for the records just before the committed offset after a
restart, repeated event ids are dropped.

The URL is a secret, and aiohttp puts it into its exception messages: only
exception types, HTTP statuses and event ids are logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from random import random as uniform01

import aiohttp
from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from stream.adapters.kafka import consumer
from stream.policy import NotifierPolicy
from stream.service.notifier import (
    Action,
    Dispatcher,
    Verdict,
    classify,
    decode_breach,
    headers,
    payload,
    retry_after_seconds,
    retry_delay,
    webhook_url,
)
from stream.settings import Settings

log = logging.getLogger(__name__)

BREACHES = "sla-breaches"
RESULTS = ("sent", "rejected", "retried", "duplicate", "skipped")
# After an assignment, this many records before the committed offset are read
# again (not posted) to remember their ids: a breach a crashed SLA worker
# emitted twice is then dropped even when the notifier restarted in between.
LOOKBACK_RECORDS = 500
BATCH_RECORDS = 200


def install(ctx) -> None:
    policy = ctx.policy.notifier
    if not policy.enabled:
        return
    # `stream worker` has checked the variable before anything started.
    url = webhook_url(policy, os.environ)
    counter = Counter(
        "sla_notifications",
        "Breach events by what the notifier did: sent, rejected (refused for good), duplicate, skipped"
        " (filtered out), and retried (each failed try).",
        ["result"],
        registry=ctx.metrics.registry,
    )
    for result in RESULTS:
        counter.labels(result=result)  # every series from the start, at 0
    notifier = BreachNotifier(ctx.settings, policy, url, counter)
    ctx.state["notifier"] = notifier

    @ctx.app.task
    async def notify_breaches() -> None:
        await notifier.run()


class BreachNotifier:
    def __init__(
        self,
        settings: Settings,
        policy: NotifierPolicy,
        url: str,
        counter: Counter,
        *,
        random: Callable[[], float] = uniform01,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self._url = url
        self.counter = counter
        self.random = random
        self.clock = clock
        self.sleep = sleep
        self.topic = settings.topic(BREACHES)
        self.group_id = f"{settings.app_id}-notifier"
        self.dispatcher = Dispatcher(policy)
        self.handled = 0
        # Bumped by every assignment: records fetched before it are stale
        # (positions went back to the committed offsets).
        self.assignments = 0
        # partition -> offset after the last record handled, not committed yet
        self._pending: dict = {}
        # partition -> committed offset at assignment: records below it were
        # handled by an earlier run and are only remembered.
        self._replay_until: dict = {}

    def __repr__(self) -> str:  # reprs end up in logs: never show the URL
        return f"<BreachNotifier {self.topic} -> webhook ({self.policy.format})>"

    async def run(self) -> None:
        """Until cancelled at shutdown. Nothing escapes: an exception in a
        Faust task would crash the whole worker."""
        failures = 0
        handled_then = self.handled
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the broker unreachable
                failures = 1 if self.handled != handled_then else failures + 1
                handled_then = self.handled
                delay = max(1.0, retry_delay(failures, self.policy.max_backoff_seconds, self.random))
                log.warning("notifier: stopped by %s; starting again in %.1f s", type(exc).__name__, delay)
                await self.sleep(delay)

    async def _consume(self) -> None:
        timeout_ms = int(self.settings.kafka_session_timeout_seconds * 1000)
        client = consumer(
            self.settings,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=timeout_ms,
            heartbeat_interval_ms=min(3000, timeout_ms // 3),
        )
        self._pending.clear()
        self._replay_until.clear()
        started = False
        try:
            await client.start()
            started = True
            client.subscribe([self.topic], listener=_Rebalance(self, client))
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout_seconds)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                while True:
                    batch = await client.getmany(timeout_ms=1000, max_records=BATCH_RECORDS)
                    fetched_in = self.assignments
                    for tp, records in batch.items():
                        for record in records:
                            if self.assignments != fetched_in:
                                break  # a rebalance while posting: fetch again
                            await self._handle(client, session, tp, record)
                    await self._commit(client)
        finally:
            await self._close(client, commit=started)

    async def _handle(self, client, session: aiohttp.ClientSession, tp, record) -> None:
        event = decode_breach(record.value)
        if record.offset < self._replay_until.get(tp, 0):
            self.dispatcher.recall(event)
            return
        action = self.dispatcher.triage(event)
        assigned_in = self.assignments
        if action is Action.POST:
            await self._deliver(session, event)
        elif action is Action.DUPLICATE:
            self.counter.labels(result="duplicate").inc()
        else:
            self.counter.labels(result="skipped").inc()
            if event is None:
                log.warning(
                    "notifier: %s[%d] offset %d is not a breach event; skipped", tp.topic, tp.partition, record.offset
                )
        self.dispatcher.handled(event, action)
        self.handled += 1
        if self.assignments != assigned_in:
            # Reassigned while posting: the position went back to the last
            # commit, so this record comes again (and is a duplicate then).
            return
        self._pending[tp] = record.offset + 1
        if action is Action.POST:
            await self._commit(client)

    async def _deliver(self, session: aiohttp.ClientSession, event: dict) -> None:
        """Post until the webhook takes the event or refuses it for good."""
        body = payload(event, self.policy.format)
        request_headers = headers(event)
        event_id = event["event_id"]
        failed = 0
        while True:
            status, retry_after, failure = await self._post(session, body, request_headers)
            verdict = Verdict.RETRY if status is None else classify(status)
            if verdict is Verdict.SENT:
                self.counter.labels(result="sent").inc()
                return
            if verdict is Verdict.REJECTED:
                self.counter.labels(result="rejected").inc()
                log.error("notifier: the webhook refused event %s with HTTP %d; not retried", event_id, status)
                return
            failed += 1
            self.counter.labels(result="retried").inc()
            wait = retry_delay(
                failed, self.policy.max_backoff_seconds, self.random, retry_after_seconds(retry_after, self.clock())
            )
            reason = f"HTTP {status}" if status is not None else failure
            log.warning("notifier: event %s not delivered (%s); try %d in %.1f s", event_id, reason, failed + 1, wait)
            await self.sleep(wait)

    async def _post(
        self, session: aiohttp.ClientSession, body: bytes, request_headers: dict[str, str]
    ) -> tuple[int | None, str | None, str | None]:
        """(status, Retry-After, None), or (None, None, what failed) without a response."""
        try:
            async with session.post(self._url, data=body, headers=request_headers, allow_redirects=False) as response:
                return response.status, response.headers.get("Retry-After"), None
        except asyncio.TimeoutError:
            return None, None, "timeout"
        except (aiohttp.ClientError, OSError) as exc:
            return None, None, type(exc).__name__  # str(exc) would name the URL

    async def _commit(self, client, only: set | None = None) -> None:
        assigned = client.assignment()
        offsets = {tp: n for tp, n in self._pending.items() if tp in assigned and (only is None or tp in only)}
        if not offsets:
            return
        try:
            await client.commit(offsets)
        except KafkaError as exc:
            # Membership changed under us: the partition's next owner reads
            # again from the last commit (repeats keep their event_id).
            log.warning("notifier: offsets not committed (%s)", type(exc).__name__)
            return
        for tp, offset in offsets.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    async def _close(self, client, commit: bool) -> None:
        """Commit what was handled, then leave the group (bounded: shutdown waits for us)."""
        try:
            if commit:
                await asyncio.wait_for(self._commit(client), 5)
        except Exception as exc:
            log.warning("notifier: final commit failed (%s)", type(exc).__name__)
        try:
            await asyncio.wait_for(client.stop(), 10)
        except Exception as exc:
            log.warning("notifier: consumer did not stop cleanly (%s)", type(exc).__name__)

    async def on_revoked(self, client, revoked) -> None:
        await self._commit(client, only=set(revoked))
        for tp in revoked:
            self._pending.pop(tp, None)
            self._replay_until.pop(tp, None)

    async def on_assigned(self, client, assigned) -> None:
        self.assignments += 1
        for tp in assigned:
            self._pending.pop(tp, None)
            self._replay_until.pop(tp, None)
            committed = await client.committed(tp)
            if not committed:
                continue  # nothing handled yet: start at the beginning
            first = (await client.beginning_offsets([tp]))[tp]
            start = max(first, committed - LOOKBACK_RECORDS)
            if start < committed:
                client.seek(tp, start)
                self._replay_until[tp] = committed


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, notifier: BreachNotifier, client) -> None:
        self.notifier = notifier
        self.client = client

    async def on_partitions_revoked(self, revoked) -> None:
        try:
            await self.notifier.on_revoked(self.client, revoked)
        except Exception as exc:
            log.warning("notifier: commit before the rebalance failed (%s)", type(exc).__name__)

    async def on_partitions_assigned(self, assigned) -> None:
        try:
            await self.notifier.on_assigned(self.client, assigned)
        except Exception as exc:
            # Positions stay at the committed offsets: only the look-back is lost.
            log.warning("notifier: no look-back after the rebalance (%s)", type(exc).__name__)
