"""C2PA Content Credentials: sign a file with a manifest, verify one against trust anchors.

A thin, explicit layer over c2pa-python.  Key material is read into memory
only to hand it to the signer and is never put into an exception, a log line
or a manifest.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProvenanceError

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
WATERMARK_ASSERTION = "com.skyseal.watermark"

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".avi": "video/avi"}


def mime_type(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return _MIME[suffix]
    except KeyError:
        raise ProvenanceError(f"C2PA signing does not support {suffix or 'extensionless'} files here") from None


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

        info = c2pa.C2paSignerInfo(
            self.algorithm.encode(), self.issuer_chain(), _read(self.key_path, "private key"),
            self.tsa_url.encode() if self.tsa_url else None,
        )
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError:
            # The native message may quote the key; say what is wrong without it.
            raise ProvenanceError(
                f"the signing key {self.key_path.name} and certificate chain {self.chain_path.name} cannot sign "
                f"(wrong key for the certificate, unsupported algorithm {self.algorithm!r}, or malformed PEM)"
            ) from None


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProvenanceError(f"cannot read the {what} at {path}: {exc.strerror}") from None


def build_manifest(*, title: str, claim_generator: str, version: str, watermark_payload: str | None,
                   watermark_algorithm: str | None, extra_assertions: list[dict] | None = None) -> dict:
    """A manifest for AI-generated media: c2pa.created with trainedAlgorithmicMedia, plus the watermark binding."""
    assertions: list[dict] = [
        {
            "label": "c2pa.actions",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                        "softwareAgent": {"name": claim_generator, "version": version},
                    }
                ]
            },
        }
    ]
    if watermark_payload:
        assertions.append({"label": WATERMARK_ASSERTION, "data": {"payload": watermark_payload, "algorithm": watermark_algorithm}})
    assertions.extend(extra_assertions or [])
    return {
        "claim_generator_info": [{"name": claim_generator, "version": version}],
        "title": title,
        "format": None,
        "assertions": assertions,
    }


def sign_file(source: str | os.PathLike, dest: str | os.PathLike, manifest: dict, signer: PemSigner) -> str:
    """Embed a signed manifest in a copy of ``source`` at ``dest``; return the manifest label."""
    import c2pa

    fmt = mime_type(source)
    manifest = {k: v for k, v in manifest.items() if v is not None}
    native = signer.to_c2pa()
    try:
        with c2pa.Builder(json.dumps(manifest)) as builder, open(source, "rb") as src, open(dest, "w+b") as dst:
            builder.sign(native, fmt, src, dst)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {_safe(exc)}") from None
    finally:
        native.close()
    report = verify_file(dest)
    return report.manifest_label or ""


@dataclass(frozen=True)
class C2paReport:
    state: str  # "Trusted" | "Valid" | "Invalid" | "absent"
    failures: list[str] = field(default_factory=list)  # validation codes that failed
    successes: list[str] = field(default_factory=list)
    manifest_label: str | None = None
    issuer: str | None = None
    common_name: str | None = None
    claim_generator: str | None = None
    title: str | None = None
    digital_source_type: str | None = None
    watermark_payload: str | None = None
    watermark_algorithm: str | None = None
    error: str | None = None

    @property
    def present(self) -> bool:
        return self.state != "absent"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def verify_file(path: str | os.PathLike, *, trust_anchors_pem: str | None = None) -> C2paReport:
    """Read and validate the C2PA manifest in ``path``.

    With ``trust_anchors_pem`` a chain that ends in one of those roots is
    reported Trusted; without, a correctly signed manifest is only Valid.
    """
    import c2pa

    settings: dict = {"verify": {"verify_trust": bool(trust_anchors_pem)}}
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    data = Path(path).read_bytes()
    fmt = _sniff_format(data, path)
    try:
        with c2pa.Context.from_dict(settings) as ctx:
            reader = c2pa.Reader.try_create(fmt, io.BytesIO(data), None, ctx)
            if reader is None:
                return C2paReport(state="absent")
            with reader:
                state = reader.get_validation_state() or "Invalid"
                results = reader.get_validation_results() or {}
                manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as exc:
        # A damaged manifest store is evidence too: report it, don't hide it.
        return C2paReport(state="Invalid", failures=["manifest.unreadable"], error=_safe(exc))
    active = results.get("activeManifest", {})
    failures = [item["code"] for item in active.get("failure", [])]
    successes = [item["code"] for item in active.get("success", [])]
    if failures and state != "Invalid":
        state = "Invalid"
    return _report(state, failures, successes, manifest)


def _report(state: str, failures: list[str], successes: list[str], manifest: dict) -> C2paReport:
    source_type = None
    wm_payload = wm_alg = None
    for assertion in manifest.get("assertions", []):
        label = assertion.get("label", "")
        if label.startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    source_type = action.get("digitalSourceType")
        elif label == WATERMARK_ASSERTION:
            wm_payload = assertion.get("data", {}).get("payload")
            wm_alg = assertion.get("data", {}).get("algorithm")
    sig = manifest.get("signature_info", {})
    gen = (manifest.get("claim_generator_info") or [{}])[0]
    return C2paReport(
        state=state, failures=failures, successes=successes, manifest_label=manifest.get("label"),
        issuer=sig.get("issuer"), common_name=sig.get("common_name"),
        claim_generator=" ".join(str(gen.get(k)) for k in ("name", "version") if gen.get(k)) or manifest.get("claim_generator"),
        title=manifest.get("title"), digital_source_type=source_type, watermark_payload=wm_payload, watermark_algorithm=wm_alg,
    )


def _sniff_format(data: bytes, path: str | os.PathLike) -> str:
    """The MIME type from the bytes, not the extension (a renamed file is still what it is)."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video/avi"
    return _MIME.get(Path(path).suffix.lower(), "application/octet-stream")


def _safe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return "(details withheld)" if "PRIVATE KEY" in message else message[:300]
