"""A short chaos run: two workers killed at random and a broker restart,
then 0 missed and 0 false breaches (``make chaos`` runs a long one)."""

import socket

from chaos.run import run
from tests.support.worker import free_port


def broker_port() -> int:
    """A free port whose next one is free too (the broker's controller uses it)."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port


def test_no_breach_is_missed_or_false_through_kills_and_a_broker_restart(tmp_path):
    result = run(
        seed=20261201, seconds=60, workers=2, leads=60, broker_restarts=1, kafka_port=broker_port(), workdir=tmp_path
    )
    print(result)
    assert result["kills"] > 0 and result["broker_restarts"] == 1
    assert result["missed"] == [] and result["false"] == [], result
    assert result["stages_with_two_ids"] == []
    assert result["standing"] == result["expected"] > 0
