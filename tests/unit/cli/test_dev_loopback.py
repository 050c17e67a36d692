"""`dev` binds its worker's web server to loopback unless told otherwise."""

from stream.cli.dev import dev_environment


def test_dev_worker_listens_on_loopback_by_default():
    env = dev_environment("127.0.0.1:9092", {"PATH": "/usr/bin"})
    assert env["SLA_WEB_HOST"] == "127.0.0.1"
    assert env["SLA_WEB_ADVERTISED_HOST"] == "127.0.0.1"
    assert env["SLA_KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"


def test_sla_web_host_still_decides():
    env = dev_environment("127.0.0.1:9092", {"SLA_WEB_HOST": "0.0.0.0"})
    assert env["SLA_WEB_HOST"] == "0.0.0.0"
