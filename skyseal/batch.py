"""Detection over many files: expand folders, one record per file, write JSONL / CSV / Parquet.

A bad file becomes one error record (``{"file", "error"}``) and the batch goes
on; nothing here raises for a single file's sake.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Settings

MEDIA_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".png", ".jpg", ".jpeg", ".webp", ".bmp"}
FORMATS = ("jsonl", "csv", "parquet")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (even with odd suffixes, so they get their own error record); folders walked for media files."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES))
        else:
            out.append(p)
    return out


@dataclass
class Detector:
    """The detector's components, built once and used for every file."""

    watermarker: object
    ledger: object
    trust_anchors_pem: str | None
    probe: object | None = None
    max_frames: int = 64

    @classmethod
    def from_settings(cls, settings: Settings, *, max_frames: int = 64) -> "Detector":
        from provenance import Ledger

        from .components import build_watermarker
        from .signing import trust_anchors

        probe = None
        probe_path = settings.home / "probe.joblib"  # written by `python -m skyseal.train_probe --install`
        if probe_path.is_file():
            from provenance.probe import FrameProbe

            probe = FrameProbe.load(probe_path)
        return cls(build_watermarker(settings.provenance), Ledger(settings.ledger_location), trust_anchors(settings),
                   probe=probe, max_frames=max_frames)

    def close(self) -> None:
        self.ledger.close()

    def verdict(self, path: str | Path):
        from .detect import detect_file

        return detect_file(path, watermarker=self.watermarker, ledger=self.ledger, trust_anchors_pem=self.trust_anchors_pem,
                           probe=self.probe, max_frames=self.max_frames)

    def record(self, path: str | Path) -> dict:
        """The verdict as a dict, or an error record; never raises for a bad file."""
        try:
            return self.verdict(path).to_dict()
        except Exception as exc:  # noqa: BLE001 - one file's failure must not stop a batch of millions
            return error_record(path, exc)


def error_record(path: str | Path, exc: BaseException) -> dict:
    from provenance import ProvenanceError

    from .errors import SkysealError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, (SkysealError, ProvenanceError)):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return {"file": str(path), "label": None, "error": text[:500]}


def detect_paths(detector: Detector, paths: Iterable[Path], *, on_done: Callable[[dict], None] | None = None) -> Iterator[dict]:
    for path in paths:
        record = detector.record(path)
        if on_done is not None:
            on_done(record)
        yield record


def flat_record(record: dict) -> dict:
    """One row per file with the fields people filter on; the full verdict stays in ``verdict_json``."""
    if record.get("error"):
        return {"file": record["file"], "label": None, "error": record["error"], **dict.fromkeys(_FLAT_FIELDS), "verdict_json": None}
    c2pa, mark, ledger, media = record["c2pa"], record["watermark"], record["ledger"], record["media"]
    perceptual = ledger.get("perceptual") or {}
    row = {
        "file": record["file"], "label": record["label"], "error": None,
        "sha256": record["sha256"],
        "evidence": " | ".join(e["detail"] for e in record["evidence"] if e["supports"]) or None,
        "c2pa_state": c2pa["state"], "c2pa_failures": ",".join(c2pa.get("failures") or []) or None,
        "c2pa_issuer": c2pa.get("issuer"), "c2pa_claim_generator": c2pa.get("claim_generator"),
        "c2pa_digital_source_type": c2pa.get("digital_source_type"), "c2pa_watermark_payload": c2pa.get("watermark_payload"),
        "watermark_found": bool(mark["found"]), "watermark_payload": mark.get("payload"),
        "watermark_p_value": float(mark["p_value"]), "watermark_confidence": float(mark["confidence"]),
        "ledger_match": ledger["kind"], "ledger_payload": ledger.get("payload"),
        "perceptual_distance": perceptual.get("distance"),
        "matched_segment": json.dumps({"file": perceptual["query_segment"], "original": perceptual["reference_segment"]})
        if perceptual else None,
        "probe_score": (record.get("probe") or {}).get("generated_score"),
        "frames_read": media.get("frames_read"), "width": media.get("width"), "height": media.get("height"),
        "verdict_json": json.dumps(record, default=str),
    }
    return row


_FLAT_FIELDS = ["sha256", "evidence", "c2pa_state", "c2pa_failures", "c2pa_issuer", "c2pa_claim_generator",
                "c2pa_digital_source_type", "c2pa_watermark_payload", "watermark_found", "watermark_payload",
                "watermark_p_value", "watermark_confidence", "ledger_match", "ledger_payload", "perceptual_distance",
                "matched_segment", "probe_score", "frames_read", "width", "height"]


def format_for(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            from .errors import SkysealError

            raise SkysealError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix, "jsonl")


def write_records(records: list[dict], path: str | Path, fmt: str) -> None:
    """All records to ``path`` atomically: the file is complete or absent."""
    import pandas as pd

    from .media import atomic_output

    with atomic_output(path) as tmp:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            return
        frame = pd.DataFrame([flat_record(r) for r in records], columns=["file", "label", "error", *_FLAT_FIELDS, "verdict_json"])
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


__all__ = ["Detector", "FORMATS", "MEDIA_SUFFIXES", "detect_paths", "error_record", "expand_paths", "flat_record", "write_records"]
