"""Who signs a C2PA manifest: a PEM key on disk, or a callback into a KMS/HSM.

Both are thin descriptions that turn into a native ``c2pa.Signer`` only for
the moment of signing.  A signer's private key never leaves it through this
module: errors name files and algorithms, never their contents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ProvenanceError

log = logging.getLogger("provenance.signers")

# COSE (RFC 9053 s2.1) carries ECDSA signatures as the fixed-width big-endian
# r || s, not the DER SEQUENCE most crypto APIs and KMSs return.
_ECDSA_FIELD_BYTES = {"es256": 32, "es384": 48, "es512": 66}
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


def _c2pa_alg(algorithm: str):
    import c2pa

    name = algorithm.lower()
    if name not in ALGORITHMS:
        raise ProvenanceError(f"unsupported signing algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    return getattr(c2pa.C2paSigningAlg, name.upper())


@runtime_checkable
class Signer(Protocol):
    """Anything ``sign_file`` can sign with."""

    algorithm: str

    def to_c2pa(self):  # -> c2pa.Signer, closed by the caller after one signing
        ...


@dataclass(frozen=True)
class PemSigner:
    """A certificate chain (leaf first) and its private key, as PEM files."""

    chain_path: Path
    key_path: Path
    algorithm: str = "es256"
    tsa_url: str | None = None

    def issuer_chain(self) -> bytes:
        return _read(self.chain_path, "certificate chain")

    def to_c2pa(self):
        import c2pa

        _c2pa_alg(self.algorithm)  # a clear error for a typo before any key is read
        chain = self.issuer_chain()
        if b"PRIVATE KEY" in chain:
            # A key pasted into the chain file would be embedded in every manifest we sign.
            raise ProvenanceError(f"the certificate chain {Path(self.chain_path).name} contains a private key; "
                                  "it must hold certificates only")
        info = c2pa.C2paSignerInfo(self.algorithm.lower().encode(), chain, _read(self.key_path, "private key"),
                                   self.tsa_url.encode() if self.tsa_url else None)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError:
            # The native message may quote the key; say what is wrong without it.
            raise ProvenanceError(
                f"the signing key {Path(self.key_path).name} and certificate chain {Path(self.chain_path).name} "
                f"cannot sign (wrong key for the certificate, unsupported algorithm {self.algorithm!r}, or malformed PEM)"
            ) from None


@dataclass(frozen=True)
class CallbackSigner:
    """A signer whose key lives elsewhere (KMS, HSM, remote service).

    ``sign`` gets the exact bytes C2PA signs (the COSE Sig_structure) and
    returns the signature.  For ECDSA either the raw ``r || s`` or DER is
    accepted; DER is converted to the raw form COSE requires, so a KMS
    answer can be passed straight through.
    """

    sign: Callable[[bytes], bytes]
    chain_pem: str
    algorithm: str = "es256"
    tsa_url: str | None = None
    # Why the last callback failed, in words safe to show (never its exception text).
    _failure: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def issuer_chain(self) -> bytes:
        return self.chain_pem.encode() if isinstance(self.chain_pem, str) else bytes(self.chain_pem)

    @property
    def last_failure(self) -> str | None:
        return self._failure[-1] if self._failure else None

    def to_c2pa(self):
        import c2pa

        alg = _c2pa_alg(self.algorithm)
        chain = self.issuer_chain()
        if b"PRIVATE KEY" in chain:
            raise ProvenanceError("the certificate chain given to the callback signer contains a private key; "
                                  "it must hold certificates only")
        if b"BEGIN CERTIFICATE" not in chain:
            raise ProvenanceError("the certificate chain given to the callback signer holds no PEM certificate")
        self._failure.clear()
        try:
            return c2pa.Signer.from_callback(self._sign_for_cose, alg, chain.decode("ascii", "replace"), self.tsa_url)
        except c2pa.C2paError:
            raise ProvenanceError(
                f"the callback signer cannot be created (malformed certificate chain, algorithm {self.algorithm!r} "
                "or TSA URL)"
            ) from None

    def _sign_for_cose(self, data: bytes) -> bytes:
        # c2pa-python logs str(exception) of a failing callback; only our own
        # vetted message may reach it, so the callback's exception stops here.
        try:
            signature = self.sign(data)
        except Exception as exc:
            self._failure.append(f"the signing callback raised {type(exc).__name__}")
            raise _CallbackFailed(self._failure[-1]) from None
        try:
            return cose_signature(bytes(signature), self.algorithm)
        except (TypeError, ValueError) as exc:
            self._failure.append(f"the signing callback returned an unusable signature: {exc}")
            raise _CallbackFailed(self._failure[-1]) from None


class _CallbackFailed(Exception):
    """Raised inside the native callback; its message is already safe."""


def cose_signature(signature: bytes, algorithm: str) -> bytes:
    """``signature`` in the form COSE carries for ``algorithm`` (ECDSA: raw r || s)."""
    name = algorithm.lower()
    width = _ECDSA_FIELD_BYTES.get(name)
    if width is None:
        if name == "ed25519" and len(signature) != 64:
            raise ValueError(f"an Ed25519 signature has 64 bytes, got {len(signature)}")
        if not signature:
            raise ValueError("empty signature")
        return signature
    if len(signature) == 2 * width and not _is_der(signature):
        return signature
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise ValueError(f"{name.upper()} needs {2 * width} raw bytes (r || s) or a DER ECDSA signature, "
                         f"got {len(signature)} bytes of neither") from None
    if max(r.bit_length(), s.bit_length()) > 8 * width:
        raise ValueError(f"the DER signature is too large for {name.upper()}")
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def _is_der(signature: bytes) -> bool:
    # A strict DER SEQUENCE of two INTEGERs that spans exactly the input; raw r||s
    # that happens to start with 0x30 fails the length checks.
    if len(signature) < 8 or signature[0] != 0x30 or signature[1] != len(signature) - 2:
        return False
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

    try:
        return encode_dss_signature(*decode_dss_signature(signature)) == signature
    except ValueError:
        return False


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProvenanceError(f"cannot read the {what} at {path}: {exc.strerror}") from None


_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)", re.S)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{40,}")


def redact(text: str) -> str:
    """``text`` with any PEM block or long base64 run removed: native errors may echo key bytes."""
    return _BASE64_RUN.sub("[redacted]", _PEM_BLOCK.sub("[redacted PEM]", text))


__all__ = ["ALGORITHMS", "CallbackSigner", "PemSigner", "Signer", "cose_signature", "redact"]
