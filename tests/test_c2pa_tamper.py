"""Tampering with a signed H.264 file, each kind caught with its C2PA validation code.

Offsets are found by walking the file's boxes (ISO BMFF top level, then the
JUMBF boxes of the manifest store by label), never by fixed positions.
"""

import struct

import numpy as np
import pytest

from provenance import PemSigner, build_manifest, ensure_dev_ca, prompt_digest, sign_file, verify_file
from provenance.c2pa import MANIFEST_UNREADABLE
from skyseal.media import encode_mp4


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    d = tmp_path_factory.mktemp("tamper")
    ca = ensure_dev_ca(d / "ca")
    frames = np.random.default_rng(3).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, d / "plain.mp4")
    manifest = build_manifest(title="t.mp4", claim_generator="skyseal", version="0", model="m-1",
                              watermark_payload="0123456789abcdef", watermark_algorithm="wm", duration_s=1.0,
                              training_mining={"cawg.ai_training": "notAllowed"}, prompt_sha256=prompt_digest("p"),
                              decisions=[{"stage": "prompt", "action": "allow", "categories": {}, "policy_version": "v"}])
    sign_file(d / "plain.mp4", d / "signed.mp4", manifest, PemSigner(ca.signer_chain, ca.signer_key))
    return d, (d / "signed.mp4").read_bytes(), ca.root_cert.read_text()


def top_level_boxes(data: bytes):
    """(type, offset, header size, size) of each top-level ISO BMFF box."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        elif size == 0:
            size = len(data) - offset
        yield kind, offset, header, size
        offset += size


def box(data: bytes, kind: bytes) -> tuple[int, int, int]:
    found = [(o, h, s) for k, o, h, s in top_level_boxes(data) if k == kind]
    assert len(found) == 1, f"expected one {kind!r} box"
    return found[0]


def jumbf_content(data: bytes, label: str) -> tuple[int, int]:
    """(start, end) of the content box (e.g. cbor) that follows the JUMBF description box named ``label``."""
    at = data.index(label.encode() + b"\x00")  # labels are NUL-terminated in the jumd box
    jumd = data.rindex(b"jumd", 0, at) - 4
    content = jumd + struct.unpack(">I", data[jumd:jumd + 4])[0]
    size, kind = struct.unpack(">I4s", data[content:content + 8])
    assert kind in (b"cbor", b"json"), kind
    return content + 8, content + size


def flipped(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def check(tmp_path, name, data, anchors):
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(data)
    return verify_file(path, trust_anchors_pem=anchors)


def test_untouched_file_is_trusted(signed, tmp_path):
    _, data, anchors = signed
    report = check(tmp_path, "same", data, anchors)
    assert report.state == "Trusted" and report.failures == []


def test_media_byte_changed(signed, tmp_path):
    _, data, anchors = signed
    offset, header, size = box(data, b"mdat")
    report = check(tmp_path, "media", flipped(data, offset + header + (size - header) // 2), anchors)
    assert report.state == "Invalid" and report.failures == ["assertion.bmffHash.mismatch"]


@pytest.mark.parametrize("label", ["c2pa.soft-binding", "com.skyseal.safety", "cawg.training-mining", "c2pa.actions.v2"])
def test_assertion_byte_changed(signed, tmp_path, label):
    _, data, anchors = signed
    start, end = jumbf_content(data, label)
    report = check(tmp_path, "assertion", flipped(data, end - 3), anchors)
    assert report.state == "Invalid" and report.failures == ["assertion.hashedURI.mismatch"]
    assert label in report.failure_details[0]["url"]  # the code points at the assertion that changed


def test_soft_binding_payload_rewritten(signed, tmp_path):
    # Rewriting the payload to another valid-looking one is caught the same way.
    _, data, anchors = signed
    start, end = jumbf_content(data, "c2pa.soft-binding")
    at = data.index(b"0123456789abcdef", start, end)
    forged = data[:at] + b"fedcba9876543210" + data[at + 16:]
    report = check(tmp_path, "forged", forged, anchors)
    assert report.state == "Invalid" and report.failures == ["assertion.hashedURI.mismatch"]


def test_signature_byte_changed(signed, tmp_path):
    _, data, anchors = signed
    start, end = jumbf_content(data, "c2pa.signature")
    assert data[end - 66:end - 64] == b"\x58\x40"  # COSE_Sign1 ends with the 64-byte ES256 signature
    report = check(tmp_path, "signature", flipped(data, end - 10), anchors)
    assert report.state == "Invalid" and report.failures == ["claimSignature.mismatch"]


def test_claim_byte_changed(signed, tmp_path):
    _, data, anchors = signed
    start, end = jumbf_content(data, "c2pa.claim.v2")
    report = check(tmp_path, "claim", flipped(data, end - 3), anchors)
    assert report.state == "Invalid" and "claimSignature.mismatch" in report.failures


def test_truncated_media(signed, tmp_path):
    # Cut inside mdat: the manifest is intact but no longer matches the media it hashed.
    _, data, anchors = signed
    offset, header, size = box(data, b"mdat")
    report = check(tmp_path, "cut_media", data[:offset + header + (size - header) // 2], anchors)
    assert report.state == "Invalid" and report.failures == ["assertion.bmffHash.mismatch"]


@pytest.mark.parametrize("where", ["tail", "manifest"])
def test_truncated_container(signed, tmp_path, where):
    _, data, anchors = signed
    offset, _, size = box(data, b"uuid")  # the C2PA manifest store
    cut = data[:-100] if where == "tail" else data[:offset + size // 2]
    report = check(tmp_path, f"cut_{where}", cut, anchors)
    assert report.state == "Invalid" and report.failures == [MANIFEST_UNREADABLE]
    assert "beyond asset bounds" in report.error  # the SDK's reason, passed on


def test_other_issuer_is_valid_but_untrusted(signed, tmp_path):
    d, data, _ = signed
    stranger = ensure_dev_ca(tmp_path / "stranger").root_cert.read_text()
    report = check(tmp_path, "stranger", data, stranger)
    assert report.state == "Valid" and report.failures == ["signingCredential.untrusted"]
    assert check(tmp_path, "no_anchor", data, None).state == "Valid"
