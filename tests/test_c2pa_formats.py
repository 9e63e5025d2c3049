"""Formats and inputs: MP4 and MOV carry credentials, WebM cannot, a remux strips them, bad input is refused."""

from fractions import Fraction

import numpy as np
import pytest

from provenance import (
    PemSigner, ProvenanceError, build_manifest, ensure_dev_ca, sign_file, strip_credentials, verify_file,
)
from provenance.c2pa import WEBM_UNSUPPORTED
from skyseal.media import encode_mp4, read_media

FRAMES = np.random.default_rng(4).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)


def _encode(path, container: str, codec: str):
    import av

    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=Fraction(8))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for frame in FRAMES:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    ca = ensure_dev_ca(d / "ca")
    encode_mp4(FRAMES, d / "plain.mp4")
    return d, ca, PemSigner(ca.signer_chain, ca.signer_key)


def _manifest():
    return build_manifest(title="t", claim_generator="skyseal", version="0", watermark_payload="00112233aabbccdd",
                          watermark_algorithm="wm", model="m-1")


def test_mov_is_signed_and_trusted(world, tmp_path):
    d, ca, signer = world
    _encode(tmp_path / "plain.mov", "mov", "libx264")
    assert (tmp_path / "plain.mov").read_bytes()[4:12] == b"ftypqt  "  # a real QuickTime file
    sign_file(tmp_path / "plain.mov", tmp_path / "signed.mov", _manifest(), signer)
    report = verify_file(tmp_path / "signed.mov", trust_anchors_pem=ca.root_cert.read_text())
    assert report.state == "Trusted" and report.failures == [] and report.watermark_payload == "00112233aabbccdd"
    assert len(read_media(tmp_path / "signed.mov").frames) == len(FRAMES)  # still plays


def test_webm_is_refused_clearly(world, tmp_path):
    import av

    if "libvpx-vp9" not in av.codecs_available:  # pragma: no cover - PyAV wheels ship it
        pytest.skip("this PyAV build has no libvpx-vp9 encoder to make a WebM with")
    d, _, signer = world
    _encode(tmp_path / "clip.webm", "webm", "libvpx-vp9")
    assert (tmp_path / "clip.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a real WebM
    with pytest.raises(ProvenanceError, match="WebM is not supported by the C2PA SDK"):
        sign_file(tmp_path / "clip.webm", tmp_path / "signed.webm", _manifest(), signer)
    assert not (tmp_path / "signed.webm").exists()
    report = verify_file(tmp_path / "clip.webm")
    assert report.state == "unsupported" and report.error == WEBM_UNSUPPORTED and not report.present
    # A WebM renamed .mp4 is still a WebM: judged by its bytes, not its name.
    (tmp_path / "renamed.mp4").write_bytes((tmp_path / "clip.webm").read_bytes())
    with pytest.raises(ProvenanceError, match="WebM"):
        sign_file(tmp_path / "renamed.mp4", tmp_path / "x.mp4", _manifest(), signer)
    assert verify_file(tmp_path / "renamed.mp4").state == "unsupported"


def test_remux_strips_the_manifest_and_keeps_the_frames(world, tmp_path):
    d, ca, signer = world
    sign_file(d / "plain.mp4", tmp_path / "signed.mp4", _manifest(), signer)
    assert verify_file(tmp_path / "signed.mp4").present
    strip_credentials(tmp_path / "signed.mp4", tmp_path / "stripped.mp4")
    assert verify_file(tmp_path / "stripped.mp4", trust_anchors_pem=ca.root_cert.read_text()).state == "absent"
    assert b"c2pa" not in (tmp_path / "stripped.mp4").read_bytes()
    # Stream copy: the decoded frames are bit-identical, so the watermark in them survives.
    assert np.array_equal(read_media(tmp_path / "stripped.mp4").frames, read_media(tmp_path / "signed.mp4").frames)


def test_strip_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(ProvenanceError, match="cannot remux"):
        strip_credentials(tmp_path / "junk.mp4", tmp_path / "out.mp4")
    with pytest.raises(ProvenanceError, match="no such file"):
        strip_credentials(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]  # nothing half-written


def test_bad_inputs_get_clear_errors(world, tmp_path):
    d, _, signer = world
    (tmp_path / "empty.mp4").write_bytes(b"")
    for path, message in [(tmp_path / "missing.mp4", "no such file"), (tmp_path, "not a regular file"),
                          (tmp_path / "empty.mp4", "empty file")]:
        with pytest.raises(ProvenanceError, match=message):
            verify_file(path)
        with pytest.raises(ProvenanceError, match=message):
            sign_file(path, tmp_path / "out.mp4", _manifest(), signer)
    with pytest.raises(ProvenanceError, match="not PEM certificates"):
        verify_file(d / "plain.mp4", trust_anchors_pem="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ProvenanceError, match="private key"):
        verify_file(d / "plain.mp4", trust_anchors_pem=world[1].signer_key.read_text())
    with pytest.raises(ProvenanceError, match="other than its source"):
        sign_file(d / "plain.mp4", d / "plain.mp4", _manifest(), signer)
    (tmp_path / "notes.txt").write_text("hello")
    assert verify_file(tmp_path / "notes.txt").state == "unsupported"


def test_failed_signing_keeps_the_old_destination(world, tmp_path):
    d, _, signer = world
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"previous complete file")
    bad = _manifest()
    bad["assertions"] = [a for a in bad["assertions"] if a["label"] != "c2pa.soft-binding"]  # SDK refuses this
    before = (d / "plain.mp4").read_bytes()
    with pytest.raises(ProvenanceError):
        sign_file(d / "plain.mp4", dest, bad, signer)
    assert dest.read_bytes() == b"previous complete file" and (d / "plain.mp4").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
