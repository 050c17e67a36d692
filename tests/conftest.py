import os

import pytest

from tests.support.kafka import start_broker, stop_broker, unique_prefix
from tests.support.worker import WorkerProcess, wait_for

# Tests use their own broker port so a `make dev` broker on 9092 is left alone.
TEST_KAFKA_PORT = int(os.environ.get("SLA_TEST_KAFKA_PORT", "19092"))


@pytest.fixture(scope="session")
def kafka_bootstrap():
    bootstrap, started = start_broker(TEST_KAFKA_PORT)
    yield bootstrap
    if started and not os.environ.get("SLA_TEST_KEEP_KAFKA"):
        stop_broker(TEST_KAFKA_PORT)


@pytest.fixture
def prefix():
    return unique_prefix()


# What the workers of a failed test said last, printed at the very end of
# the run, where a CI log that keeps only its tail still shows it.
WORKER_LOG_LINES = 12
_failed_worker_logs: list[tuple[str, str]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    report = (yield).get_result()
    if report.failed and report.when in ("call", "setup"):
        for worker in getattr(item, "sla_workers", ()):
            tail = worker.tail(WORKER_LOG_LINES, records_only=True, width=200)
            _failed_worker_logs.append((f"{item.name} {worker.workdir.name}", tail))


def pytest_terminal_summary(terminalreporter):
    for title, tail in _failed_worker_logs:
        terminalreporter.write_sep("-", f"worker log tail: {title}")
        terminalreporter.write_line(tail)


@pytest.fixture
def make_worker(kafka_bootstrap, tmp_path, request):
    """Factory for worker processes sharing one topic prefix per test."""
    workers = []
    request.node.sla_workers = workers
    shared = {"prefix": unique_prefix()}

    def factory(policy: str | None = None, name: str = "w", **env) -> WorkerProcess:
        workdir = tmp_path / f"{name}{len(workers)}"
        workdir.mkdir()
        worker = WorkerProcess(kafka_bootstrap, shared["prefix"], workdir, policy, **env)
        workers.append(worker)
        return worker

    yield factory
    for worker in workers:
        worker.stop()


@pytest.fixture
def start_workers(make_worker):
    """Start ``n`` workers of one group on ``policy`` and wait until all are ready."""

    def start(policy: str, n: int = 1) -> list[WorkerProcess]:
        workers = [make_worker(policy, name=chr(ord("a") + i)) for i in range(n)]
        workers[0].create_topics()
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready()
        # A later joiner's rebalance may have paused the first ones again.
        wait_for(lambda: all(w.get("/readyz")[0] == 200 for w in workers), 60, message="every worker ready")
        return workers

    return start
