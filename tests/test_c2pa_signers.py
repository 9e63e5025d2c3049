"""C2PA signers: PEM files, a KMS-style callback, the dev CA; keys never leak."""

import logging
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from provenance import CallbackSigner, PemSigner, ProvenanceError, build_manifest, ensure_dev_ca, sign_file, verify_file
from provenance.signers import cose_signature
from skyseal.config import Settings
from skyseal.errors import ConfigError
from skyseal.media import encode_mp4
from skyseal.signing import signing_setup


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("signers")
    ca, other = ensure_dev_ca(d / "ca"), ensure_dev_ca(d / "other")
    frames = np.random.default_rng(1).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, d / "plain.mp4")
    return d, ca, other


def _manifest():
    return build_manifest(title="t.mp4", claim_generator="skyseal-test", version="0", watermark_payload="0011223344556677",
                          watermark_algorithm="test", model="test-model-1", duration_s=0.75)


def _key(path):
    return serialization.load_pem_private_key(path.read_bytes(), None)


def _secret_lines(key_path) -> list[str]:
    """The base64 body lines of a PEM key: what a leak would show."""
    return [line for line in key_path.read_text().splitlines() if line and not line.startswith("-----")]


def _cose_signature(data: bytes) -> bytes:
    """The signature bytes of the c2pa.signature COSE_Sign1 box (its last element: bstr 64)."""
    label = data.index(b"c2pa.signature\x00")
    jumd = data.rindex(b"jumd", 0, label) - 4
    content = jumd + struct.unpack(">I", data[jumd:jumd + 4])[0]
    end = content + struct.unpack(">I", data[content:content + 4])[0]
    assert data[end - 66:end - 64] == b"\x58\x40"  # CBOR bstr of 64 bytes closes the COSE_Sign1 array
    return data[end - 64:end]


@pytest.mark.parametrize("form", ["der", "raw"])
def test_callback_signer_with_a_key_held_in_memory_is_trusted(world, tmp_path, form):
    d, ca, _ = world
    kms_key = _key(ca.signer_key)  # stands in for a key that never leaves a KMS
    seen: list[bytes] = []

    def kms_sign(data: bytes) -> bytes:
        seen.append(data)
        der = kms_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if form == "der":  # what AWS/GCP KMS and most HSM APIs return
            return der
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    sign_file(d / "plain.mp4", tmp_path / "kms.mp4", _manifest(), CallbackSigner(kms_sign, ca.signer_chain.read_text()))
    report = verify_file(tmp_path / "kms.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.state == "Trusted" and report.failures == []
    assert report.common_name == "Skyseal dev signer" and report.watermark_payload == "0011223344556677"
    # COSE carries ES256 as raw r || s (64 bytes), and it verifies over exactly the bytes the callback signed.
    raw = _cose_signature((tmp_path / "kms.mp4").read_bytes())
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    kms_key.public_key().verify(der, seen[-1], ec.ECDSA(hashes.SHA256()))


def test_cose_signature_normalises_ecdsa():
    key = ec.generate_private_key(ec.SECP384R1())
    der = key.sign(b"x", ec.ECDSA(hashes.SHA384()))
    raw = cose_signature(der, "es384")
    r, s = decode_dss_signature(der)
    assert raw == r.to_bytes(48, "big") + s.to_bytes(48, "big")
    assert cose_signature(raw, "ES384") == raw  # already raw: untouched
    with pytest.raises(ValueError, match="96 raw bytes"):
        cose_signature(b"\x30" * 20, "es384")
    with pytest.raises(ValueError, match="64 bytes"):
        cose_signature(b"\x01" * 10, "ed25519")


def test_callback_failures_are_clear_and_do_not_leak(world, tmp_path, caplog, capfd):
    d, ca, other = world
    secret = other.signer_key.read_text()

    def leaky(data: bytes) -> bytes:
        raise RuntimeError(f"KMS refused: {secret}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProvenanceError, match="callback raised RuntimeError") as info:
        sign_file(d / "plain.mp4", tmp_path / "a.mp4", _manifest(), CallbackSigner(leaky, ca.signer_chain.read_text()))
    with pytest.raises(ProvenanceError, match="unusable signature"):
        sign_file(d / "plain.mp4", tmp_path / "b.mp4", _manifest(),
                  CallbackSigner(lambda data: b"\x05" * 10, ca.signer_chain.read_text()))
    wrong = _key(other.signer_key)  # a key that does not match the certificate
    with pytest.raises(ProvenanceError, match="signature does not match") as wrong_info:
        sign_file(d / "plain.mp4", tmp_path / "c.mp4", _manifest(),
                  CallbackSigner(lambda data: wrong.sign(data, ec.ECDSA(hashes.SHA256())), ca.signer_chain.read_text()))
    out, err = capfd.readouterr()
    seen = str(info.value) + str(wrong_info.value) + caplog.text + out + err
    assert "PRIVATE KEY" not in seen and not any(line in seen for line in _secret_lines(other.signer_key))
    assert not any((tmp_path / n).exists() for n in ("a.mp4", "b.mp4", "c.mp4"))
    assert [p.name for p in tmp_path.iterdir()] == []  # no partial or temp file left behind


@pytest.mark.parametrize("case", ["wrong_key", "garbage_key", "key_as_chain", "chain_as_key", "missing_key"])
def test_pem_signer_failures_never_show_key_material(world, tmp_path, case, caplog, capfd):
    d, ca, other = world
    garbage = tmp_path / "garbage.key"
    # Looks like a key to a careless error path: a PEM frame around real key bytes, damaged.
    body = _secret_lines(ca.signer_key)
    garbage.write_text("-----BEGIN PRIVATE KEY-----\n" + "\n".join(body[:1] + ["!!!"] + body[1:]) + "\n-----END PRIVATE KEY-----\n")
    signer = {
        "wrong_key": PemSigner(ca.signer_chain, other.signer_key),
        "garbage_key": PemSigner(ca.signer_chain, garbage),
        "key_as_chain": PemSigner(ca.signer_key, ca.signer_key),
        "chain_as_key": PemSigner(ca.signer_chain, ca.signer_chain),
        "missing_key": PemSigner(ca.signer_chain, tmp_path / "nope.key"),
    }[case]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProvenanceError) as info:
        sign_file(d / "plain.mp4", tmp_path / "x.mp4", _manifest(), signer)
    out, err = capfd.readouterr()
    seen = str(info.value) + repr(info.value) + caplog.text + out + err
    assert "PRIVATE KEY" not in seen
    for key in (ca.signer_key, other.signer_key):
        assert not any(line in seen for line in _secret_lines(key))
    exc = info.value  # no native exception (whose text may quote the key) rides along
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert not (tmp_path / "x.mp4").exists()


def test_signed_file_holds_no_private_key(world, tmp_path):
    d, ca, _ = world
    sign_file(d / "plain.mp4", tmp_path / "s.mp4", _manifest(), PemSigner(ca.signer_chain, ca.signer_key))
    data = (tmp_path / "s.mp4").read_bytes()
    key = _key(ca.signer_key)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert b"PRIVATE KEY" not in data and scalar not in data and der not in data
    assert not any(line.encode() in data for line in _secret_lines(ca.signer_key))
    # ...but it does carry the public chain, so a verifier can check it.
    leaf = ca.signer_chain.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"
    from cryptography import x509

    assert x509.load_pem_x509_certificate(leaf.encode()).public_bytes(serialization.Encoding.DER) in data


# A signer_callback named in the settings is an import path; this module is importable by name under pytest.
_KMS_KEY = {}


def kms_sign(data: bytes) -> bytes:
    return _KMS_KEY["key"].sign(data, ec.ECDSA(hashes.SHA256()))


def test_settings_can_name_a_kms_callback(world, tmp_path):
    d, ca, _ = world
    _KMS_KEY["key"] = _key(ca.signer_key)
    settings = Settings.model_validate({"home": str(tmp_path / "home"), "provenance": {
        "signer_callback": f"{__name__}:kms_sign", "signer_chain": str(ca.signer_chain),
        "trust_anchors": [str(ca.root_cert)]}})
    setup = signing_setup(settings)
    assert isinstance(setup.signer, CallbackSigner)
    sign_file(d / "plain.mp4", tmp_path / "k.mp4", _manifest(), setup.signer)
    assert verify_file(tmp_path / "k.mp4", trust_anchors_pem=setup.trust_anchors_pem).state == "Trusted"
    assert not (tmp_path / "home" / "dev-ca").exists()  # an external signer never creates the dev CA


@pytest.mark.parametrize("provenance, message", [
    ({"signer_callback": "no_such_module_xyz:sign", "signer_chain": "CHAIN"}, "cannot be loaded"),
    ({"signer_callback": f"{__name__}:kms_sign"}, "needs provenance.signer_chain"),
    ({"signer_callback": f"{__name__}:kms_sign", "signer_chain": "CHAIN", "signer_key": "k.pem"}, "not both"),
])
def test_bad_callback_settings_are_config_errors(world, tmp_path, provenance, message):
    _, ca, _ = world
    cfg = {k: (str(ca.signer_chain) if v == "CHAIN" else v) for k, v in provenance.items()}
    settings = Settings.model_validate({"home": str(tmp_path), "provenance": cfg})
    with pytest.raises(ConfigError, match=message):
        signing_setup(settings)


def test_dev_ca_leaf_is_what_c2pa_accepts(tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = ensure_dev_ca(tmp_path / "ca")
    leaf, root = x509.load_pem_x509_certificates(ca.signer_chain.read_bytes())
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and leaf.public_key().curve.name == "secp256r1"


def test_dev_ca_created_once_under_concurrent_first_use(tmp_path):
    import stat
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from cryptography import x509

    folder = tmp_path / "home" / "dev-ca"
    start = threading.Barrier(4)

    def first_use(_):
        start.wait()
        return ensure_dev_ca(folder)

    with ThreadPoolExecutor(4) as pool:
        cas = list(pool.map(first_use, range(4)))
    ca = cas[0]
    leaf, chain_root = x509.load_pem_x509_certificates(ca.signer_chain.read_bytes())
    assert chain_root == x509.load_pem_x509_certificate(ca.root_cert.read_bytes())  # one root, its own leaf
    leaf_key = _key(ca.signer_key).public_key()
    assert leaf.public_key().public_numbers() == leaf_key.public_numbers()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["dev-ca"]  # no staging folders left
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_incomplete_dev_ca_folder_is_reported_not_mixed(tmp_path):
    folder = tmp_path / "dev-ca"
    folder.mkdir()
    (folder / "root.pem").write_text("left over")
    with pytest.raises(ProvenanceError, match="not a complete development CA"):
        ensure_dev_ca(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev-ca"]
