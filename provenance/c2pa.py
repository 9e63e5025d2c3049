"""C2PA Content Credentials: build a manifest, sign a file with it, verify one against trust anchors.

A thin, explicit layer over c2pa-python (c2pa-rs).  Key material is read into
memory only to hand it to the signer and is never put into an exception, a
log line or a manifest.

Formats: the SDK embeds and reads manifests in ISO BMFF (MP4, MOV), AVI and
the common image formats.  WebM/Matroska is not supported by the C2PA SDK:
signing one raises a ProvenanceError saying so, verifying one reports the
state ``unsupported``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProvenanceError
from .signers import CallbackSigner, PemSigner, Signer, redact

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CREATED_ACTION = "c2pa.created"
# C2PA 2.2 split c2pa.watermarked into .bound/.unbound; ours is bound (the
# soft-binding assertion in this manifest names the payload).  c2pa-rs fails
# either one with assertion.action.softBindingMissing when that assertion is absent.
WATERMARK_ACTION = "c2pa.watermarked.bound"
SOFT_BINDING = "c2pa.soft-binding"
# Unregistered soft-binding algorithms take a reverse-domain name (see the C2PA
# soft-binding algorithm list); the suffix is Skyseal's watermark algorithm.
SOFT_BINDING_ALG_PREFIX = "com.skyseal.watermark."
TRAINING_MINING = "cawg.training-mining"
TRAINING_USES = ("allowed", "notAllowed", "constrained")
SAFETY_ASSERTION = "com.skyseal.safety"
LEGACY_WATERMARK_ASSERTION = "com.skyseal.watermark"  # read only: files signed before the soft binding

# Skyseal's own code for a manifest store the SDK cannot parse (truncated or
# mangled container); everything else in ``failures`` is a C2PA validation code.
MANIFEST_UNREADABLE = "manifest.unreadable"
# Failures that say "not on our trust list" rather than "altered": the manifest stays Valid.
_TRUST_ONLY_FAILURES = frozenset({"signingCredential.untrusted"})

WEBM_UNSUPPORTED = ("WebM is not supported by the C2PA SDK (c2pa-rs): Content Credentials cannot be embedded in or "
                    "read from WebM/Matroska files; deliver MP4 or MOV to carry them")
_WEBM = "video/webm"

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".avi": "video/avi",
         ".webm": _WEBM, ".mkv": _WEBM}

__all__ = [
    "C2paReport", "CallbackSigner", "PemSigner", "SAFETY_ASSERTION", "SOFT_BINDING", "TRAINED_ALGORITHMIC_MEDIA",
    "TRAINING_MINING", "WATERMARK_ACTION", "build_manifest", "mime_type", "prompt_digest", "sign_file", "verify_file",
]


# --------------------------------------------------------------------------- manifest


def prompt_digest(prompt: str) -> str:
    """SHA-256 (hex) of the prompt's exact UTF-8 bytes: what a manifest carries instead of the prompt.

    Exact bytes, so the ledger's stored prompt checks against it.  Anyone
    holding a candidate prompt can test it, so a short, guessable prompt is
    only as private as it is hard to guess.
    """
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def build_manifest(*, title: str, claim_generator: str, version: str, watermark_payload: str | None,
                   watermark_algorithm: str | None, model: str | None = None, duration_s: float | None = None,
                   training_mining: Mapping[str, str | Mapping] | None = None, prompt_sha256: str | None = None,
                   decisions: Sequence[object] = (), extra_assertions: list[dict] | None = None) -> dict:
    """A manifest definition for AI-generated media.

    - ``c2pa.actions``: ``c2pa.created`` (trainedAlgorithmicMedia, softwareAgent = ``model``)
      and, with a watermark, ``c2pa.watermarked.bound``;
    - ``c2pa.soft-binding``: the watermark payload over ``[0, duration_s]``;
    - ``cawg.training-mining``: ``training_mining`` entries (``use`` allowed/notAllowed/constrained);
    - ``com.skyseal.safety``: policy version, per-stage action and categories, and the
      prompt's SHA-256 (``prompt_sha256``; see :func:`prompt_digest`), never the prompt.

    ``decisions`` are safety decisions (objects or mappings with stage, action,
    categories, policy_version); only those fields are copied, so matched text
    in a decision never reaches the manifest.
    """
    agent = {"name": model} if model else {"name": claim_generator, "version": version}
    actions: list[dict] = [{"action": CREATED_ACTION, "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent}]
    assertions: list[dict] = [{"label": "c2pa.actions", "data": {"actions": actions}}]
    if watermark_payload:
        if not isinstance(watermark_payload, str) or not re.fullmatch(r"[0-9A-Za-z_-]{1,256}", watermark_payload):
            raise ProvenanceError("the watermark payload must be a short alphanumeric string")
        algorithm = watermark_algorithm or "unknown"
        actions.append({"action": WATERMARK_ACTION, "softwareAgent": {"name": claim_generator, "version": version},
                        "description": f"invisible watermark ({algorithm}) carrying the soft-binding payload"})
        scope: dict = {}
        if duration_s is not None and duration_s > 0:
            scope["timespan"] = {"start": 0, "end": int(round(duration_s * 1000))}
        # The shape of c2pa-rs's SoftBinding struct; its `pad` has no serde default, so an
        # assertion without one would not parse back into that struct.
        assertions.append({"label": SOFT_BINDING, "data": {
            "alg": SOFT_BINDING_ALG_PREFIX + algorithm, "blocks": [{"scope": scope, "value": watermark_payload}], "pad": [],
        }})
    if training_mining:
        assertions.append({"label": TRAINING_MINING, "data": {"entries": _training_entries(training_mining)}})
    if prompt_sha256 is not None or decisions:
        assertions.append({"label": SAFETY_ASSERTION, "data": _safety_summary(prompt_sha256, decisions)})
    assertions.extend(extra_assertions or [])
    return {
        "claim_generator_info": [{"name": claim_generator, "version": version}],
        "title": title,
        "assertions": assertions,
    }


def _training_entries(entries: Mapping[str, str | Mapping]) -> dict:
    out: dict[str, dict] = {}
    for name, value in entries.items():
        entry = {"use": value} if isinstance(value, str) else {k: v for k, v in dict(value).items() if v is not None}
        if entry.get("use") not in TRAINING_USES:
            raise ProvenanceError(f"training-mining entry {name!r}: use must be one of {', '.join(TRAINING_USES)}, "
                                  f"got {entry.get('use')!r}")
        if "." not in name:
            raise ProvenanceError(f"training-mining entry {name!r} must be namespaced, e.g. cawg.ai_training")
        unknown = set(entry) - {"use", "constraint_info"}
        if unknown:
            raise ProvenanceError(f"training-mining entry {name!r} has unknown fields {sorted(unknown)}")
        out[str(name)] = entry
    return out


def _safety_summary(prompt_sha256: str | None, decisions: Sequence[object]) -> dict:
    if prompt_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", prompt_sha256):
        # Refuse anything that is not a digest: a prompt passed here by mistake must not be signed in.
        raise ProvenanceError("prompt_sha256 must be a lowercase hex SHA-256 digest (see prompt_digest)")
    stages = [_decision_summary(d) for d in decisions if d is not None]
    versions = sorted({s["policy_version"] for s in stages if s.get("policy_version")})
    summary: dict = {"policy_version": versions[0] if len(versions) == 1 else versions or None, "decisions": stages}
    if prompt_sha256 is not None:
        summary["prompt_sha256"] = prompt_sha256
    return {k: v for k, v in summary.items() if v is not None}


def _decision_summary(decision: object) -> dict:
    def get(key: str):
        return decision.get(key) if isinstance(decision, Mapping) else getattr(decision, key, None)

    categories = get("categories") or {}
    if isinstance(categories, Mapping):
        cats = {str(k): round(float(v), 4) for k, v in sorted(categories.items())}
    else:
        cats = {str(k): None for k in sorted(categories)}
    out = {"stage": get("stage"), "action": get("action"), "categories": cats, "policy_version": get("policy_version")}
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- formats


def mime_type(path: str | os.PathLike) -> str:
    """The C2PA format for ``path`` from its extension (a clear error for formats the SDK cannot sign)."""
    suffix = Path(path).suffix.lower()
    fmt = _MIME.get(suffix)
    if fmt == _WEBM:
        raise ProvenanceError(WEBM_UNSUPPORTED)
    if fmt is None:
        raise ProvenanceError(f"C2PA signing does not support {suffix or 'extensionless'} files here")
    return fmt


def _sniff_format(head: bytes, path: str | os.PathLike) -> str:
    """The MIME type from the bytes, not the extension (a renamed file is still what it is)."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM / Matroska
        return _WEBM
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/avi"
    return _MIME.get(Path(path).suffix.lower(), "application/octet-stream")


def _open_input(path: str | os.PathLike) -> tuple[Path, str]:
    p = Path(path)
    if not p.exists():
        raise ProvenanceError(f"{p}: no such file")
    if not p.is_file():
        raise ProvenanceError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise ProvenanceError(f"{p}: empty file")
    with open(p, "rb") as fh:
        head = fh.read(16)
    return p, _sniff_format(head, p)


# --------------------------------------------------------------------------- signing


def sign_file(source: str | os.PathLike, dest: str | os.PathLike, manifest: dict, signer: Signer) -> str:
    """Embed a signed manifest in a copy of ``source`` at ``dest``; return the manifest label.

    ``dest`` appears complete or not at all; ``source`` is never modified.
    """
    import c2pa

    src, fmt = _open_input(source)
    if fmt == _WEBM:
        raise ProvenanceError(WEBM_UNSUPPORTED)
    if fmt not in c2pa.Builder.get_supported_mime_types():
        raise ProvenanceError(f"{src.name}: C2PA signing does not support {fmt} files")
    dst = Path(dest)
    if dst.exists() and dst.resolve() == src.resolve():
        raise ProvenanceError("sign_file needs a destination other than its source")
    definition = json.dumps({k: v for k, v in manifest.items() if v is not None})
    native = signer.to_c2pa()
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "w+b") as fout, open(src, "rb") as fin:
            try:
                with c2pa.Builder(definition) as builder:
                    builder.sign(native, fmt, fin, fout)
            except c2pa.C2paError as exc:
                raise ProvenanceError(_signing_failure(exc, signer)) from None
            fout.flush()
            os.fsync(fout.fileno())
        report = verify_file(tmp)
        if report.state not in ("Valid", "Trusted"):
            raise ProvenanceError(f"the signed copy does not validate ({', '.join(report.failures) or report.state})")
        os.replace(tmp, dst)
    finally:
        native.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return report.manifest_label or ""


def _signing_failure(exc: Exception, signer: Signer) -> str:
    why = getattr(signer, "last_failure", None)
    if why:
        return f"C2PA signing failed: {why}"
    lines = str(exc).strip().splitlines()
    text = " ".join(line.strip() for line in lines[:3]) or type(exc).__name__
    return f"C2PA signing failed: {redact(text)[:400]}"


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class C2paReport:
    state: str  # "Trusted" | "Valid" | "Invalid" | "absent" | "unsupported"
    failures: list[str] = field(default_factory=list)  # every validation code that failed
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
    informational: list[str] = field(default_factory=list)
    failure_details: list[dict] = field(default_factory=list)  # {code, url, explanation} per failure
    software_agent: str | None = None  # the model named by c2pa.created
    actions: list[str] = field(default_factory=list)
    soft_binding_alg: str | None = None
    training_mining: dict | None = None
    safety: dict | None = None  # the com.skyseal.safety assertion
    signed_at: str | None = None

    @property
    def present(self) -> bool:
        return self.state in ("Trusted", "Valid", "Invalid")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def verify_file(path: str | os.PathLike, *, trust_anchors_pem: str | None = None) -> C2paReport:
    """Read and validate the C2PA manifest in ``path``.

    With ``trust_anchors_pem`` (PEM roots) a chain that ends in one of them is
    Trusted, one that does not is Valid with ``signingCredential.untrusted``
    among its failures; without anchors a correctly signed manifest is Valid.
    Any other failure makes it Invalid.  No manifest: ``absent``; a format the
    SDK cannot read (WebM): ``unsupported`` with the reason in ``error``.
    """
    import c2pa

    p, fmt = _open_input(path)
    if fmt == _WEBM:
        return C2paReport(state="unsupported", error=WEBM_UNSUPPORTED)
    if fmt not in c2pa.Reader.get_supported_mime_types():
        return C2paReport(state="unsupported", error=f"the C2PA SDK cannot read {fmt} files")
    settings: dict = {"verify": {"verify_trust": bool(trust_anchors_pem)}}
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": _check_anchors(trust_anchors_pem)}
    try:
        with c2pa.Context.from_dict(settings) as ctx, open(p, "rb") as stream:
            reader = c2pa.Reader.try_create(fmt, stream, None, ctx)
            if reader is None:
                return C2paReport(state="absent")
            with reader:
                state = reader.get_validation_state() or "Invalid"
                results = reader.get_validation_results() or {}
                manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError.NotSupported as exc:
        return C2paReport(state="unsupported", error=redact(_first_line(exc)))
    except c2pa.C2paError as exc:
        # A damaged manifest store is evidence too: report it, don't hide it.
        message = redact(_first_line(exc))
        return C2paReport(state="Invalid", failures=[MANIFEST_UNREADABLE], error=message,
                          failure_details=[{"code": MANIFEST_UNREADABLE, "url": None, "explanation": message}])
    details = _failures(results)
    failures = [d["code"] for d in details]
    if any(code not in _TRUST_ONLY_FAILURES for code in failures):
        state = "Invalid"
    elif failures and state == "Trusted":  # untrusted cannot be Trusted, whatever the SDK says
        state = "Valid"
    active = results.get("activeManifest") or {}
    successes = [item.get("code") for item in active.get("success", [])]
    informational = [item.get("code") for item in active.get("informational", [])]
    return _report(state, failures, details, successes, informational, manifest)


def _failures(results: dict) -> list[dict]:
    """Failures of the active manifest and of every ingredient delta, each once."""
    items = list((results.get("activeManifest") or {}).get("failure", []))
    for delta in results.get("ingredientDeltas") or []:
        items.extend((delta.get("validationDeltas") or {}).get("failure", []))
    seen: set[tuple] = set()
    out: list[dict] = []
    for item in items:
        key = (item.get("code"), item.get("url"))
        if key not in seen:
            seen.add(key)
            out.append({"code": item.get("code"), "url": item.get("url"), "explanation": item.get("explanation")})
    return out


def _check_anchors(pem: str) -> str:
    from cryptography import x509

    if "PRIVATE KEY" in pem:
        raise ProvenanceError("the trust anchors contain a private key; give root certificates only")
    try:
        if not x509.load_pem_x509_certificates(pem.encode("ascii")):
            raise ValueError
    except (ValueError, UnicodeEncodeError):
        raise ProvenanceError("the trust anchors are not PEM certificates") from None
    return pem


def _report(state: str, failures: list[str], details: list[dict], successes: list[str], informational: list[str],
            manifest: dict) -> C2paReport:
    source_type = agent = None
    actions: list[str] = []
    wm_payload = wm_alg = sb_alg = None
    training = safety = None
    for assertion in manifest.get("assertions", []):
        label = assertion.get("label", "")
        data = assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            for action in data.get("actions", []):
                actions.append(action.get("action"))
                if action.get("action") == CREATED_ACTION:
                    source_type = action.get("digitalSourceType")
                    agent = _agent_name(action.get("softwareAgent"))
        elif label == SOFT_BINDING or label.startswith(SOFT_BINDING + "__"):
            blocks = data.get("blocks") or []
            if blocks and wm_payload is None:
                sb_alg = data.get("alg")
                wm_payload = blocks[0].get("value")
                wm_alg = sb_alg[len(SOFT_BINDING_ALG_PREFIX):] if sb_alg and sb_alg.startswith(SOFT_BINDING_ALG_PREFIX) else sb_alg
        elif label == LEGACY_WATERMARK_ASSERTION and wm_payload is None:
            wm_payload, wm_alg = data.get("payload"), data.get("algorithm")
        elif label == TRAINING_MINING:
            training = data.get("entries")
        elif label == SAFETY_ASSERTION:
            safety = data
    sig = manifest.get("signature_info") or {}
    gen = (manifest.get("claim_generator_info") or [{}])[0]
    return C2paReport(
        state=state, failures=failures, successes=successes, manifest_label=manifest.get("label"),
        issuer=sig.get("issuer"), common_name=sig.get("common_name"),
        claim_generator=" ".join(str(gen.get(k)) for k in ("name", "version") if gen.get(k)) or manifest.get("claim_generator"),
        title=manifest.get("title"), digital_source_type=source_type, watermark_payload=wm_payload,
        watermark_algorithm=wm_alg, informational=informational, failure_details=details, software_agent=agent,
        actions=actions, soft_binding_alg=sb_alg, training_mining=training, safety=safety, signed_at=sig.get("time"),
    )


def _agent_name(agent) -> str | None:
    if isinstance(agent, str):
        return agent
    if isinstance(agent, Mapping):
        return " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or None
    return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
