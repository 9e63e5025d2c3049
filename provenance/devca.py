"""A development certificate authority for C2PA signing.

C2PA validators refuse self-signed CA certificates as signers, so the dev CA
is two-level: a root (CA:TRUE) that users add as a trust anchor, and an ES256
leaf with the emailProtection EKU and an authority key identifier, which is
what the C2PA trust model accepts for a signer.  Private keys are written with
mode 0600 before any byte of key material lands on disk.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import ProvenanceError


@dataclass(frozen=True)
class DevCA:
    """Paths of a development CA on disk."""

    folder: Path

    @property
    def root_cert(self) -> Path:
        return self.folder / "root.pem"

    @property
    def root_key(self) -> Path:
        return self.folder / "root.key"

    @property
    def signer_chain(self) -> Path:
        return self.folder / "signer-chain.pem"

    @property
    def signer_key(self) -> Path:
        return self.folder / "signer.key"

    def exists(self) -> bool:
        return all(p.is_file() for p in (self.root_cert, self.signer_chain, self.signer_key))


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL|0600 at creation: the key is never readable by others, even briefly.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skyseal development"),
        ]
    )


def ensure_dev_ca(folder: str | os.PathLike, *, organisation: str = "Skyseal dev") -> DevCA:
    """Create the development CA in ``folder`` unless it is already there."""
    ca = DevCA(Path(folder))
    if ca.exists():
        return ca
    ca.folder.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organisation} root CA")
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organisation} signer"))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    # Written into a private (0700) staging folder, then renamed into place: the four
    # files appear together or not at all, and of two processes creating the CA at
    # once exactly one wins, so a root never gets paired with the other's leaf.
    staging = DevCA(Path(tempfile.mkdtemp(prefix=f".{ca.folder.name}.", dir=ca.folder.parent)))
    try:
        _write_private(staging.root_key, root_key.private_bytes(pem, pkcs8, plain))
        _write_private(staging.signer_key, leaf_key.private_bytes(pem, pkcs8, plain))
        _write_public(staging.root_cert, root.public_bytes(pem))
        _write_public(staging.signer_chain, leaf.public_bytes(pem) + root.public_bytes(pem))
        try:
            os.rename(staging.folder, ca.folder)  # replaces an empty folder, never a populated one
        except OSError:
            if not ca.exists():
                raise ProvenanceError(f"{ca.folder} exists but is not a complete development CA; move it aside") from None
    finally:
        shutil.rmtree(staging.folder, ignore_errors=True)
    return ca
