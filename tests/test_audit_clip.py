"""CLIP zero-shot attributes: used only with local weights, skipped cleanly without."""

import json

import numpy as np
import pytest

from audits.clip_attributes import ClipUnavailable, ClipZeroShot

TINY = {  # a real open_clip architecture, small enough to build in a test; its random weights say nothing
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    import open_clip
    import torch

    root = tmp_path_factory.mktemp("clip")
    (root / "skyseal-tiny-clip.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(root / "skyseal-tiny-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("skyseal-tiny-clip")
    path = root / "tiny.pt"
    torch.save(model.state_dict(), path)
    return path


def test_no_weights_means_skipped_not_guessed(tmp_path):
    with pytest.raises(ClipUnavailable):
        ClipZeroShot("ViT-B-32", "")
    with pytest.raises(ClipUnavailable, match="cannot load CLIP"):
        ClipZeroShot("ViT-B-32", tmp_path / "missing.pt")


def test_audit_rows_carry_no_clip_columns_without_weights(tmp_path):
    from skyseal.audit_runner import AuditOptions, PipelineSampler
    from safety import OutputClassifier
    from generator import ProceduralGenerator

    sampler = PipelineSampler(lambda p: False, ProceduralGenerator(size=64), OutputClassifier(scorers=[]),
                              options=AuditOptions(num_frames=1, size=64, save_frames=False))
    assert sampler.clip is None
    assert not [k for k in sampler("a chef standing", 1) if k.startswith("clip_")]


def test_local_weights_give_a_distribution_per_attribute(tiny_checkpoint):
    from skyseal.audit_runner import AuditOptions, PipelineSampler
    from safety import OutputClassifier
    from generator import ProceduralGenerator

    options = AuditOptions(num_frames=2, size=64, save_frames=False, clip_model="skyseal-tiny-clip",
                           clip_pretrained=str(tiny_checkpoint))
    sampler = PipelineSampler(lambda p: False, ProceduralGenerator(size=64), OutputClassifier(scorers=[]), options=options)
    row = sampler("a nurse walking", 3)
    gender = [row[f"clip_perceived_gender_{label}"] for label in ("woman", "man")]
    age = [row[f"clip_perceived_age_{label}"] for label in ("young", "middle_aged", "elderly")]
    assert np.isclose(sum(gender), 1) and np.isclose(sum(age), 1)
    assert row["clip_perceived_gender"] in ("woman", "man")
    # Which weights measured a result is part of its cache key.
    plain = PipelineSampler(lambda p: False, sampler.generator, sampler.output_classifier,
                            options=AuditOptions(num_frames=2, size=64, save_frames=False))
    assert plain.fingerprint != sampler.fingerprint


def test_cli_refuses_half_a_clip_configuration(home, capsys):
    from skyseal.cli import main

    assert main(["audit", "run", "smoke", "--clip-model", "ViT-B-32"]) == 1
    assert "go together" in capsys.readouterr().err
