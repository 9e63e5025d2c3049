"""Provenance: invisible watermarks, C2PA credentials, and the generation ledger."""

from .c2pa import C2paReport, PemSigner, build_manifest, prompt_digest, sign_file, verify_file
from .devca import DevCA, ensure_dev_ca
from .errors import ProvenanceError
from .ledger import DecisionEntry, GenerationRecord, Ledger, LedgerError, PerceptualHit, read_manifest
from .payload import make_payload, payload_is_valid
from .perceptual import PerceptualMatch, VideoHash, hash_frames, is_same_video
from .signers import CallbackSigner, Signer
from .strip import strip_credentials
from .watermark import DwtDctSvdWatermarker, WatermarkResult, Watermarker, get_watermarker
from .wm_skyseal import SkysealWatermarker

__all__ = [
    # C2PA credentials
    "C2paReport", "CallbackSigner", "DevCA", "PemSigner", "Signer", "build_manifest", "ensure_dev_ca", "prompt_digest",
    "sign_file", "strip_credentials", "verify_file",
    # watermarks
    "DwtDctSvdWatermarker", "SkysealWatermarker", "WatermarkResult", "Watermarker", "get_watermarker", "make_payload",
    "payload_is_valid",
    # ledger and perceptual hashes
    "DecisionEntry", "GenerationRecord", "Ledger", "LedgerError", "PerceptualHit", "PerceptualMatch", "VideoHash",
    "hash_frames", "is_same_video", "read_manifest",
    "ProvenanceError",
]
