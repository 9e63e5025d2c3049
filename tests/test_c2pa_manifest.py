"""What a Skyseal manifest says: created by a model, watermarked and soft-bound, training-mining, safety summary."""

import numpy as np
import pytest

from provenance import PemSigner, ProvenanceError, build_manifest, ensure_dev_ca, prompt_digest, sign_file, verify_file
from provenance.c2pa import SOFT_BINDING, TRAINED_ALGORITHMIC_MEDIA, WATERMARK_ACTION
from safety import Decision
from skyseal.media import encode_mp4

PROMPT = "a quiet violet lighthouse blinking over the harbour at 3am"
PAYLOAD = "8f3a5c7e9b1d2f40"


def _decisions():
    prompt = Decision(action="allow", stage="prompt", policy_version="policy-7", categories={"violence": 0.031},
                      normalized_text=PROMPT)
    output = Decision(action="review", stage="output", policy_version="policy-7", categories={"nudity": 0.41, "gore": 0.02})
    return prompt, output


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifest")
    ca = ensure_dev_ca(d / "ca")
    frames = np.random.default_rng(2).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    encode_mp4(frames, d / "plain.mp4", fps=8)
    manifest = build_manifest(
        title="lighthouse.mp4", claim_generator="skyseal", version="0.1.0", model="skyseal-dit-tiny-1200",
        watermark_payload=PAYLOAD, watermark_algorithm="skyseal-video-1", duration_s=1.0,
        training_mining={"cawg.ai_generative_training": "notAllowed", "cawg.ai_inference": "allowed",
                         "cawg.data_mining": {"use": "constrained", "constraint_info": "https://example.org/terms"}},
        prompt_sha256=prompt_digest(PROMPT), decisions=list(_decisions()),
    )
    sign_file(d / "plain.mp4", d / "signed.mp4", manifest, PemSigner(ca.signer_chain, ca.signer_key))
    return ca, d


def test_manifest_validates_with_no_failure_codes(signed):
    ca, d = signed
    report = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.state == "Trusted" and report.failures == [] and report.failure_details == []
    assert {"claimSignature.validated", "assertion.bmffHash.match", "signingCredential.trusted"} <= set(report.successes)
    assert report.claim_generator == "skyseal 0.1.0" and report.title == "lighthouse.mp4"


def test_created_by_the_model_and_watermarked(signed):
    ca, d = signed
    report = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.actions == ["c2pa.created", WATERMARK_ACTION]
    assert report.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert report.software_agent == "skyseal-dit-tiny-1200"


def test_soft_binding_carries_the_payload(signed):
    ca, d = signed
    report = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.watermark_payload == PAYLOAD
    assert report.soft_binding_alg == "com.skyseal.watermark.skyseal-video-1"
    assert report.watermark_algorithm == "skyseal-video-1"
    import c2pa

    with c2pa.Reader(str(d / "signed.mp4")) as reader:
        data = next(a["data"] for a in reader.get_active_manifest()["assertions"] if a["label"] == SOFT_BINDING)
    assert data["blocks"] == [{"scope": {"timespan": {"start": 0, "end": 1000}}, "value": PAYLOAD}]


def test_watermark_action_needs_the_soft_binding(signed, tmp_path):
    # The SDK checks the soft-binding assertion we write: without it, the watermark action is refused.
    ca, d = signed
    manifest = build_manifest(title="t", claim_generator="skyseal", version="0", watermark_payload=PAYLOAD,
                              watermark_algorithm="x")
    manifest["assertions"] = [a for a in manifest["assertions"] if a["label"] != SOFT_BINDING]
    with pytest.raises(ProvenanceError, match="softBindingMissing"):
        sign_file(d / "plain.mp4", tmp_path / "x.mp4", manifest, PemSigner(ca.signer_chain, ca.signer_key))
    assert not (tmp_path / "x.mp4").exists()


def test_training_mining_entries(signed):
    ca, d = signed
    report = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.training_mining == {
        "cawg.ai_generative_training": {"use": "notAllowed"}, "cawg.ai_inference": {"use": "allowed"},
        "cawg.data_mining": {"use": "constrained", "constraint_info": "https://example.org/terms"},
    }


def test_safety_summary_has_decisions_and_prompt_hash_not_prompt(signed):
    ca, d = signed
    report = verify_file(d / "signed.mp4", trust_anchors_pem=ca.root_cert.read_text())
    assert report.safety == {
        "policy_version": "policy-7", "prompt_sha256": prompt_digest(PROMPT),
        "decisions": [
            {"stage": "prompt", "action": "allow", "categories": {"violence": 0.031}, "policy_version": "policy-7"},
            {"stage": "output", "action": "review", "categories": {"gore": 0.02, "nudity": 0.41}, "policy_version": "policy-7"},
        ],
    }
    data = (d / "signed.mp4").read_bytes()
    assert PROMPT.encode() not in data and b"lighthouse blinking" not in data
    assert prompt_digest(PROMPT).encode() in data


def test_manifest_inputs_are_checked():
    with pytest.raises(ProvenanceError, match="SHA-256"):  # a prompt passed by mistake is never signed in
        build_manifest(title="t", claim_generator="s", version="0", watermark_payload=None, watermark_algorithm=None,
                       prompt_sha256=PROMPT)
    with pytest.raises(ProvenanceError, match="use must be one of"):
        build_manifest(title="t", claim_generator="s", version="0", watermark_payload=None, watermark_algorithm=None,
                       training_mining={"cawg.ai_training": "maybe"})
    with pytest.raises(ProvenanceError, match="namespaced"):
        build_manifest(title="t", claim_generator="s", version="0", watermark_payload=None, watermark_algorithm=None,
                       training_mining={"ai_training": "allowed"})
    plain = build_manifest(title="t", claim_generator="s", version="0", watermark_payload=None, watermark_algorithm=None)
    assert [a["label"] for a in plain["assertions"]] == ["c2pa.actions"]  # no watermark: no watermark claims


@pytest.fixture(scope="module")
def generated_here(tmp_path_factory):
    """One real Pipeline.run (lexicon-only prompt filter: the C2PA road, without loading the embedder)."""
    from provenance import Ledger
    from safety import OutputClassifier, PromptFilter, load_policy
    from skyseal.components import build_generator, build_watermarker
    from skyseal.config import Settings
    from skyseal.pipeline import Pipeline
    from skyseal.signing import signing_setup

    d = tmp_path_factory.mktemp("road")
    settings = Settings.model_validate({"home": str(d / "home"), "generator": {"num_frames": 8},
                                        "provenance": {"training_mining": {"cawg.ai_training": "notAllowed",
                                                       "cawg.ai_inference": {"use": "constrained", "constraint_info": "detectors only"}}}})
    policy = load_policy(settings.safety.policy)
    pipeline = Pipeline(prompt_filter=PromptFilter.lexicon_only(policy), generator=build_generator(settings.generator),
                        output_classifier=OutputClassifier(policy, sample_rate=settings.safety.output_sample_rate),
                        watermarker=build_watermarker(settings.provenance), signing=signing_setup(settings),
                        ledger=Ledger(settings.ledger_path), settings=settings)
    try:
        result = pipeline.run(PIPELINE_PROMPT, output=d / "clip.mp4", seed=5)
    finally:
        pipeline.close()
    return settings, result


PIPELINE_PROMPT = "a small blue ring rising slowly over dunes at dusk"


def test_pipeline_signs_the_full_manifest(generated_here):
    settings, result = generated_here
    assert result.status == "delivered"
    report = result.manifest
    assert report.state == "Trusted" and report.failures == []
    assert report.watermark_payload == result.payload
    assert report.software_agent == result.model_version
    assert report.actions == ["c2pa.created", WATERMARK_ACTION]
    assert report.training_mining == {"cawg.ai_training": {"use": "notAllowed"},
                                      "cawg.ai_inference": {"use": "constrained", "constraint_info": "detectors only"}}
    assert report.safety["prompt_sha256"] == prompt_digest(PIPELINE_PROMPT)
    assert [s["stage"] for s in report.safety["decisions"]] == ["prompt", "output"]
    assert [s["action"] for s in report.safety["decisions"]] == [result.prompt_decision.action, result.output_decision.action]
    assert report.safety["policy_version"] == result.prompt_decision.policy_version
    data = result.path.read_bytes()
    assert PIPELINE_PROMPT.encode() not in data and b"blue ring" not in data
    # What the pipeline reports is what a fresh reader of the delivered file sees.
    again = verify_file(result.path, trust_anchors_pem=(settings.dev_ca_dir / "root.pem").read_text())
    assert again.state == "Trusted" and again.safety == report.safety and again.manifest_label == report.manifest_label
