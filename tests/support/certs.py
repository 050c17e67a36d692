"""A throwaway CA and a broker certificate signed by it, made with the JDK's
``keytool`` (on the machine already for Kafka; no Python crypto package)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

VALID_DAYS = "2"


@dataclass(frozen=True)
class CA:
    store: Path  # PKCS12 with the CA's key
    password: str
    pem: Path  # its certificate: what SLA_KAFKA_SSL_CAFILE names


def _keytool(store: Path, password: str, *args: str) -> None:
    subprocess.run(
        ["keytool", "-keystore", str(store), "-storepass", password, "-storetype", "PKCS12", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def make_ca(folder: Path, name: str = "sla-test-ca", password: str = "ca-store-pw") -> CA:
    folder.mkdir(parents=True, exist_ok=True)
    ca = CA(folder / f"{name}.p12", password, folder / f"{name}.pem")
    _keytool(ca.store, password, "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
             "-dname", f"CN={name}", "-ext", "bc:c", "-validity", VALID_DAYS)
    _keytool(ca.store, password, "-exportcert", "-rfc", "-alias", "ca", "-file", str(ca.pem))
    return ca


def make_broker_keystore(folder: Path, ca: CA, password: str = "broker-store-pw") -> Path:
    """A PKCS12 keystore with the broker's key and its certificate, signed by
    ``ca``, for 127.0.0.1 and localhost (clients check the name)."""
    store, csr, cert = folder / "broker.p12", folder / "broker.csr", folder / "broker.pem"
    san = "SAN=ip:127.0.0.1,dns:localhost"
    _keytool(store, password, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
             "-dname", "CN=127.0.0.1", "-ext", san, "-validity", VALID_DAYS)
    _keytool(store, password, "-certreq", "-alias", "broker", "-file", str(csr))
    _keytool(ca.store, ca.password, "-gencert", "-alias", "ca", "-infile", str(csr), "-outfile", str(cert), "-rfc",
             "-ext", san, "-ext", "eku=serverAuth", "-validity", VALID_DAYS)
    # The chain: the CA first, then the signed certificate replaces the self-signed one.
    _keytool(store, password, "-importcert", "-noprompt", "-alias", "ca", "-file", str(ca.pem))
    _keytool(store, password, "-importcert", "-noprompt", "-alias", "broker", "-file", str(cert))
    return store
