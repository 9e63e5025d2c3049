"""Every stage on its own, on content Skyseal did not make: the Python side of the toolkit commands.

Each function takes plain inputs (prompts, paths, hex payloads) plus the
settings, and returns plain dicts ready for JSON, so the CLI, the service and
notebooks share one implementation.
"""

from __future__ import annotations

import csv
import io
import json
import re

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .config import Settings
from .errors import SkysealError

MODERATE_BATCH = 256
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class InputError(SkysealError):
    """Input a command cannot use; the message says which and why."""


class NotFound(SkysealError):
    """Nothing matched (no watermark, no manifest, no ledger record)."""


# ---------------------------------------------------------------- prompts


def read_prompts(source: str | Path, *, stdin: io.TextIOBase | None = None) -> list[str]:
    """Prompts from a text file (one a line), a CSV or JSONL file with a ``prompt`` column, or ``-`` (stdin)."""
    if str(source) == "-":
        import sys

        text = (stdin or sys.stdin).read()
        name = "<stdin>"
        suffix = _guess_suffix(text)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        name = str(path)
        suffix = path.suffix.lower() if path.suffix.lower() in (".csv", ".jsonl", ".ndjson") else _guess_suffix(text)
    if suffix == ".csv":
        return _prompts_from_csv(text, name)
    if suffix in (".jsonl", ".ndjson"):
        return _prompts_from_jsonl(text, name)
    return [line for line in text.splitlines() if line.strip()]


def _guess_suffix(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.lstrip().startswith("{"):
        return ".jsonl"
    if first.strip().lower().split(",")[0].strip('"') == "prompt" or ",prompt" in first.lower():
        return ".csv"
    return ".txt"


def _prompts_from_csv(text: str, name: str) -> list[str]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "prompt" not in reader.fieldnames:
        raise InputError(f"{name}: CSV needs a 'prompt' column (found {reader.fieldnames or 'none'})")
    return [row["prompt"] or "" for row in reader]


def _prompts_from_jsonl(text: str, name: str) -> list[str]:
    prompts = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
            raise InputError(f"{name}:{lineno}: each line needs a string 'prompt' field")
        prompts.append(obj["prompt"])
    return prompts


def moderate(prompts: Iterable[str], settings: Settings, *, on_progress: Callable[[int], None] | None = None,
             prompt_filter=None) -> Iterator[dict]:
    """One record per prompt, in input order: prompt, action, categories, reasons (+ policy version)."""
    from .components import build_prompt_filter

    pf = prompt_filter or build_prompt_filter(settings)
    batch: list[str] = []

    def flush() -> Iterator[dict]:
        for prompt, decision in zip(batch, pf.check_batch(batch)):
            yield {"prompt": prompt, "action": decision.action, "categories": decision.categories,
                   "reasons": decision.reasons, "policy_version": decision.policy_version,
                   "normalized_text": decision.normalized_text}
        if on_progress:
            on_progress(len(batch))

    for prompt in prompts:
        batch.append(prompt)
        if len(batch) >= MODERATE_BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


# ---------------------------------------------------------------- videos


def classify_video(path: str | Path, settings: Settings, *, output_classifier=None) -> dict:
    """The output classifiers on an existing video: per-category scores and the frames that drove them."""
    from .components import build_output_classifier
    from .media import read_media

    clip = read_media(path)
    oc = output_classifier or build_output_classifier(settings)
    decision = oc.classify(clip.frames, clip.fps)
    # The decision's own "frames" maps each category to the frames that drove it.
    return {"file": str(path), "frames_decoded": int(len(clip.frames)), "fps": round(clip.fps, 3), **decision.to_dict()}


def normalize_payload(payload: str) -> str:
    """A 16-hex-digit payload with a valid CRC, or a 12-hex-digit generation id to which the CRC is added."""
    from provenance import make_payload, payload_is_valid

    p = payload.strip().lower().removeprefix("0x")
    if not _HEX.match(p or "-"):
        raise InputError(f"payload {payload!r} is not hexadecimal")
    if len(p) == 12:
        return make_payload(int(p, 16))
    if len(p) == 16:
        if not payload_is_valid(p):
            raise InputError(f"payload {p} fails its CRC-16 check; give the 12-hex-digit generation id to have it added")
        return p
    raise InputError(f"payload must be 12 hex digits (generation id) or 16 (id + CRC), got {len(p)}")


def embed_watermark(source: str | Path, dest: str | Path, payload: str, settings: Settings) -> dict:
    """Watermark every frame of ``source`` with ``payload`` and write an H.264 MP4 at ``dest`` (atomically).

    Audio and metadata are not carried over: the output is a new video stream.
    """
    from .components import build_watermarker
    from .media import atomic_output, encode_mp4, read_media

    payload = normalize_payload(payload)
    clip = read_media(source)
    frames = clip.frames
    if frames.shape[1] % 2 or frames.shape[2] % 2:  # H.264 4:2:0 needs even sizes: drop one edge row/column
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    wm = build_watermarker(settings.provenance)
    marked = wm.embed(frames, payload)
    with atomic_output(dest, suffix=".mp4") as tmp:
        encode_mp4(marked, tmp, fps=clip.fps, crf=settings.provenance.crf)
    return {"file": str(dest), "payload": payload, "algorithm": wm.algorithm, "frames": int(len(marked)),
            "width": int(marked.shape[2]), "height": int(marked.shape[1])}


def detect_watermark(path: str | Path, settings: Settings) -> dict:
    from .components import build_watermarker
    from .detect import MAX_FRAMES
    from .media import read_media

    clip = read_media(path, max_frames=MAX_FRAMES)
    result = build_watermarker(settings.provenance).detect(clip.frames)
    return {"file": str(path), **result.to_dict()}


def sign(source: str | Path, dest: str | Path, settings: Settings, *, source_type: str = "trainedAlgorithmicMedia",
         title: str | None = None) -> dict:
    """Sign a copy of ``source`` at ``dest`` with the configured signer (atomically) and report its verification."""
    from provenance import build_manifest, sign_file, verify_file

    from . import __version__
    from .media import atomic_output
    from .signing import signing_setup

    src = Path(source)
    if not src.is_file():
        raise InputError(f"{src}: no such file")
    setup = signing_setup(settings)
    manifest = build_manifest(title=title or Path(dest).name, claim_generator="skyseal", version=__version__,
                              watermark_payload=None, watermark_algorithm=None)
    _set_source_type(manifest, source_type)
    with atomic_output(dest, suffix=src.suffix) as tmp:
        sign_file(src, tmp, manifest, setup.signer)
        report = verify_file(tmp, trust_anchors_pem=setup.trust_anchors_pem)
    return {"file": str(dest), **report.to_dict()}


SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "digitalCapture",
                "composite", "minorHumanEdits")


def _set_source_type(manifest: dict, source_type: str) -> None:
    if source_type not in SOURCE_TYPES:
        raise InputError(f"unknown digital source type {source_type!r}; choose from {', '.join(SOURCE_TYPES)}")
    uri = f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}"
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion["data"]["actions"]:
                if action.get("action") == "c2pa.created":
                    action["digitalSourceType"] = uri


def verify(path: str | Path, settings: Settings) -> dict:
    from provenance import verify_file

    from .signing import trust_anchors

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: empty file")
    return {"file": str(p), **verify_file(p, trust_anchors_pem=trust_anchors(settings)).to_dict()}


def ledger_show(key: str, settings: Settings) -> dict:
    """The ledger record for a watermark payload (16 hex digits) or a file SHA-256 (64 hex digits)."""
    from provenance import Ledger

    k = key.strip().lower()
    if not _HEX.match(k or "-") or len(k) not in (16, 64):
        raise InputError(f"{key!r} is neither a payload (16 hex digits) nor a SHA-256 (64 hex digits)")
    if settings.provenance.ledger_url is None and not settings.ledger_path.exists():
        raise NotFound(f"no ledger at {settings.ledger_path} yet")  # don't create an empty one just to look
    with Ledger(settings.ledger_location) as ledger:
        record = ledger.by_payload(k) if len(k) == 16 else ledger.by_sha256(k)
    if record is None:
        raise NotFound(f"no generation with {'payload' if len(k) == 16 else 'sha256'} {k} in the ledger")
    return record.to_dict()




def ledger_decisions(settings: Settings, *, action: str | None = None, outcome: str | None = None, limit: int = 100) -> list[dict]:
    """Recent policy decisions, newest first: what was blocked, held or delivered, and why."""
    from provenance import Ledger

    if action not in (None, "allow", "review", "block"):
        raise InputError(f"action must be allow, review or block, not {action!r}")
    if outcome not in (None, "delivered", "blocked", "held_for_review"):
        raise InputError(f"outcome must be delivered, blocked or held_for_review, not {outcome!r}")
    if limit < 1:
        raise InputError("limit must be at least 1")
    if settings.provenance.ledger_url is None and not settings.ledger_path.exists():
        return []
    with Ledger(settings.ledger_location) as ledger:
        return [e.to_dict() for e in ledger.decisions(action=action, outcome=outcome, limit=limit)]
