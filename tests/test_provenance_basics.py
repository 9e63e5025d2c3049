import os
import stat

import numpy as np
import pytest

from provenance import (
    DwtDctSvdWatermarker, GenerationRecord, Ledger, PemSigner, ProvenanceError, build_manifest, ensure_dev_ca,
    make_payload, payload_is_valid, sign_file, verify_file,
)
from provenance.payload import bits_to_payload, payload_to_bits
from skyseal.media import encode_mp4


def test_payload_crc_round_trip():
    p = make_payload(123456789)
    assert payload_is_valid(p) and len(p) == 16
    assert bits_to_payload(payload_to_bits(p)) == p
    flipped = bits_to_payload(np.bitwise_xor(payload_to_bits(p), np.eye(64, dtype=np.uint8)[5]))
    assert not payload_is_valid(flipped)


def test_dev_ca_keys_are_private(tmp_path):
    ca = ensure_dev_ca(tmp_path / "ca")
    for key in (ca.signer_key, ca.root_key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"PRIVATE KEY" not in ca.signer_chain.read_bytes()
    again = ensure_dev_ca(tmp_path / "ca")
    assert again.root_cert.read_bytes() == ca.root_cert.read_bytes()  # created once, reused


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    d = tmp_path_factory.mktemp("c2pa")
    ca = ensure_dev_ca(d / "ca")
    frames = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, d / "plain.mp4")
    manifest = build_manifest(title="t.mp4", claim_generator="skyseal-test", version="0", watermark_payload="0011223344556677",
                              watermark_algorithm="test")
    sign_file(d / "plain.mp4", d / "signed.mp4", manifest, PemSigner(ca.signer_chain, ca.signer_key))
    return ca, d


def test_signed_file_is_trusted_only_with_the_anchor(signed):
    ca, d = signed
    trusted = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert trusted.state == "Trusted" and trusted.failures == []
    assert trusted.watermark_payload == "0011223344556677"
    assert trusted.digital_source_type.endswith("trainedAlgorithmicMedia")
    assert verify_file(d / "signed.mp4").state == "Valid"
    assert verify_file(d / "plain.mp4").state == "absent"


def test_other_root_does_not_make_it_trusted(signed, tmp_path):
    _, d = signed
    stranger = ensure_dev_ca(tmp_path / "other")
    assert verify_file(d / "signed.mp4", trust_anchors_pem=stranger.root_cert.read_text()).state != "Trusted"


def test_wrong_key_is_refused_without_leaking_it(signed, tmp_path):
    ca, d = signed
    other = ensure_dev_ca(tmp_path / "other")
    with pytest.raises(ProvenanceError) as info:
        sign_file(d / "plain.mp4", tmp_path / "x.mp4", build_manifest(title="x", claim_generator="t", version="0",
                  watermark_payload=None, watermark_algorithm=None), PemSigner(ca.signer_chain, other.signer_key))
    assert "PRIVATE KEY" not in str(info.value)
    assert other.signer_key.read_text().splitlines()[1] not in str(info.value)


def test_ledger_round_trip(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        rec = GenerationRecord(payload=make_payload(7), sha256="ab" * 32, created_at="2026-01-01T00:00:00+00:00",
                               model_version="m", seed=1, prompt="p", file_name="f.mp4", manifest_label="urn:x",
                               watermark_algorithm="a", decisions={"prompt": {"action": "allow"}})
        ledger.add(rec)
        assert ledger.by_payload(rec.payload) == rec
        assert ledger.by_sha256("AB" * 32) == rec
        assert ledger.by_payload(make_payload(8)) is None and len(ledger) == 1


def test_baseline_watermark_finds_its_payload_and_not_in_clean_video():
    from generator import ProceduralGenerator

    frames = ProceduralGenerator(size=256)("a blue square moving up", seed=1).frames[:8]
    wm = DwtDctSvdWatermarker()
    payload = make_payload()
    result = wm.detect(wm.embed(frames, payload))
    assert result.found and result.payload == payload and result.p_value < 1e-4
    clean = wm.detect(frames)
    assert not clean.found and clean.payload is None
