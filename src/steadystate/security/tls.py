"""TLS for the SQL port: the server's certificate and key, and the context the supervisor's proxy serves with.

The operator gives a certificate chain and key by path (``--tls-cert``/``--tls-key``), or none: then a
self-signed certificate for ``localhost``, ``127.0.0.1`` and ``::1`` (and the machine's host name) is generated
once into ``<data-dir>/tls/`` (``server.crt``; ``server.key`` 0600) with the pinned ``cryptography`` library,
an ECDSA P-256 key valid ten years.  Being self-signed it is its own trust anchor: a client verifies it with
``sslmode=verify-full sslrootcert=<data-dir>/tls/server.crt``.  The context accepts TLS 1.2 and later only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from steadystate.security.files import CERT_FILE, KEY_FILE, TLS_DIR, private_dir, write_private

VALID_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    self_signed: bool  # generated here: clients can trust ``cert`` itself (sslrootcert)


def server_files(data_dir: Path, cert: Path | None = None, key: Path | None = None) -> TlsFiles:
    """The certificate and key to serve: the operator's, or a self-signed pair generated once in the data dir."""
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise ValueError("give both --tls-cert and --tls-key, or neither")
        return TlsFiles(cert.resolve(), key.resolve(), self_signed=False)
    directory = private_dir(data_dir / TLS_DIR)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if not (cert_path.exists() and key_path.exists()):
        cert_pem, key_pem = self_signed_certificate()
        write_private(key_path, key_pem.decode("ascii"))
        write_private(cert_path, cert_pem.decode("ascii"))
    return TlsFiles(cert_path, key_path, self_signed=True)


def self_signed_certificate(hosts: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """``(certificate PEM, key PEM)`` of a new self-signed certificate for loopback and the host name."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    for host in (socket.gethostname(), *hosts):
        if host and host != "localhost":
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "steadystate self-signed")])
    now = dt.datetime.now(dt.timezone.utc)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server-side context: the certificate chain and key, TLS 1.2 or later."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context
