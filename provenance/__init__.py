"""Provenance: invisible watermarks, C2PA credentials, and the generation ledger."""

from .credentials import C2paReport, PemSigner, build_manifest, sign_file, verify_file
from .credentials import prompt_digest
from .signers import CallbackSigner, Signer
from .strip import strip_credentials
from .devca import DevCA, ensure_dev_ca
from .errors import ProvenanceError
from .ledger import DecisionEntry, GenerationRecord, Ledger, LedgerError, PerceptualHit, read_manifest
from .perceptual import PerceptualMatch, VideoHash, hash_frames, is_same_video
from .payload import make_payload, payload_is_valid
from .watermark import DwtDctSvdWatermarker, WatermarkResult, Watermarker, get_watermarker
from .wm_skyseal import SkysealWatermarker

__all__ = [
    "C2paReport", "DevCA", "DwtDctSvdWatermarker", "GenerationRecord", "Ledger", "PemSigner", "ProvenanceError",
    "WatermarkResult", "Watermarker", "build_manifest", "ensure_dev_ca", "get_watermarker", "make_payload",
    "payload_is_valid", "sign_file", "verify_file",
]
__all__ += ["CallbackSigner", "Signer", "prompt_digest", "strip_credentials"]
__all__ += ["DecisionEntry", "LedgerError", "PerceptualHit", "PerceptualMatch", "VideoHash", "hash_frames", "is_same_video", "read_manifest"]
__all__ += ["SkysealWatermarker"]
