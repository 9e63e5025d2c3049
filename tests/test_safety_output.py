"""Output classification on real H.264 video: faces, the likeness/minors rules, temporal pooling, CLIP concepts."""

import json

import numpy as np
import pytest

from safety import (ClassifierLoadError, FaceDetector, OutputClassifier, PromptFilter, build_output_classifier,
                    load_policy)
from safety.output_classifier import temporal_score


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    """16 frames at 8 fps, really encoded as H.264 and read back: a face in frames 8-15 only."""
    import cv2
    from skimage.data import astronaut

    from skyseal.media import encode_mp4, read_media

    face = cv2.resize(astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    frames = np.zeros((16, 128, 128, 3), np.uint8)
    frames[:8] = (40, 90, 160)  # plain sky
    frames[8:] = face
    path = tmp_path_factory.mktemp("video") / "face.mp4"
    encode_mp4(frames, path, fps=8)
    clip = read_media(path)
    return np.asarray(clip.frames), clip.fps


@pytest.fixture(scope="module")
def lexicon():
    return PromptFilter.lexicon_only()


class _Fixed:
    """A scorer with set per-frame scores (by video frame index), to test pooling and rules without a model."""

    def __init__(self, category, by_frame, n):
        self.category, self.source = category, f"test:{category}"
        self._scores = np.zeros(n, np.float32)
        for i, s in by_frame.items():
            self._scores[i] = s
        self._idx = None

    def score_frames(self, frames):
        # Recover the video indices from the frame content: each test frame holds its index in pixel [0, 0, 0].
        return self._scores[frames[:, 0, 0, 0].astype(int)]


def _indexed(n=16, size=32):
    frames = np.zeros((n, size, size, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(n)
    return frames


def test_faces_found_in_real_video_only_where_they_are(face_video):
    frames, fps = face_video
    found = FaceDetector().predict(frames)
    assert not found[:8].any() and found[8:].all()


def test_likeness_rule_needs_faces_and_a_real_person_prompt(face_video, lexicon):
    frames, fps = face_video
    oc = OutputClassifier(scorers=[])
    person = lexicon("taylor swift waving at the camera")
    d = oc.classify(frames, fps, prompt_decision=person)
    assert d.action == "review" and d.categories["real_person_likeness"] == 0.9
    assert d.frames["real_person_likeness"] == (8, 12, 15)  # the sampled frames that show the face
    assert "faces_present" in d.flags and "faces:haar-frontalface-default" in d.checks
    assert oc.classify(frames, fps, prompt_decision=lexicon("an astronaut waving")).action == "allow"
    assert oc.classify(frames[:8], fps, prompt_decision=person).action == "allow"  # no face, no likeness


def test_minors_rule_judges_nudity_signals_against_the_minors_threshold(face_video, lexicon):
    frames, fps = face_video

    class LastFrame:
        """A weak nudity signal in the last sampled frame only: below the sexual review threshold
        (0.35), above the minors one (0.2), and too short for the temporal rule."""

        category, source = "sexual", "test:sexual"

        def score_frames(self, frames):
            out = np.zeros(len(frames), np.float32)
            out[-1] = 0.25
            return out

    oc = OutputClassifier(scorers=[LastFrame()], face_detector=True)
    child = oc.classify(frames, fps, prompt_decision=lexicon("a little girl at the beach"))
    adult = oc.classify(frames, fps, prompt_decision=lexicon("a woman at the beach"))
    assert child.action == "block" and "sexual_minors" in child.categories
    assert any(f.source == "rule:nudity+faces+prompt-minor" for f in child.findings)
    assert child.frames["sexual_minors"] == (15,)
    assert adult.action == "allow" and "sexual_minors" not in adult.categories


def test_temporal_rule_escalates_evidence_that_persists(lexicon):
    frames = _indexed()
    policy = load_policy()
    # fps 8, rate 2: frames 0, 4, 8, 12, 15 are sampled.
    steady = OutputClassifier(policy, [_Fixed("sexual", {4: 0.25, 8: 0.25, 12: 0.25}, 16)], face_detector=False)
    d = steady.classify(frames, 8)
    assert d.action == "review" and d.categories["sexual"] == pytest.approx(1 - 0.75 ** 3, abs=1e-3)
    assert d.frames["sexual"] == (4, 8, 12) and d.findings[0].source == "temporal:test:sexual"
    once = OutputClassifier(policy, [_Fixed("sexual", {8: 0.3}, 16)], face_detector=False).classify(frames, 8)
    assert once.action == "allow" and once.frames["sexual"] == (8,)  # still names the frame behind the score
    broken = OutputClassifier(policy, [_Fixed("sexual", {4: 0.3, 12: 0.3}, 16)], face_detector=False).classify(frames, 8)
    assert broken.action == "allow"
    assert temporal_score(np.array([0.1, 0.1, 0.1, 0.1]))[0] == 0.0  # noise below the floor never adds up


def test_default_output_classifier_on_real_frames_names_frames_and_checks():
    from generator import ProceduralGenerator

    video = ProceduralGenerator(size=128)("a doctor standing", seed=0)
    d = build_output_classifier(load_policy()).classify(video.frames, video.fps)
    assert d.action == "allow" and d.checks == ("nudenet:320n", "faces:haar-frontalface-default")
    assert set(d.frames) == {"sexual"} and len(d.frames["sexual"]) >= 1
    json.dumps(d.to_dict())


# --- CLIP concepts: a tiny random-weight open_clip model, saved and loaded like real weights ---

TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CFG).eval()
    folder = tmp_path_factory.mktemp("tiny-clip")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    checkpoint = folder / "tiny.pt"
    torch.save(model.state_dict(), checkpoint)
    return model, folder, checkpoint


def _reference_cos(model, frames, texts):
    import open_clip
    import torch
    from PIL import Image

    _, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + str(_reference_cos.folder))
    with torch.inference_mode():
        img = torch.nn.functional.normalize(model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames])), dim=-1)
        txt = torch.nn.functional.normalize(model.encode_text(open_clip.get_tokenizer("ViT-B-32")(texts)), dim=-1)
    return (img @ txt.T).numpy()


def test_clip_concepts_load_local_weights_and_score_per_frame(tiny_clip):
    from safety.clip_concepts import CLIPConceptClassifier

    model, folder, _ = tiny_clip
    policy = load_policy()
    clf = CLIPConceptClassifier(policy, "local-dir:" + str(folder))
    assert set(clf.categories) == {"sexual", "sexual_minors", "violence"}
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (4, 48, 48, 3), dtype=np.uint8)
    texts = [c.text for cat in clf.categories for c in policy.categories[cat].concepts]
    _reference_cos.folder = folder
    np.testing.assert_allclose(clf.similarities(frames), _reference_cos(model, frames, texts), atol=1e-4)
    scores = clf.score_frames(frames)
    assert all(s.shape == (4,) and ((s >= 0) & (s <= 1)).all() for s in scores.values())


def test_clip_from_a_checkpoint_path_with_a_registered_config(tiny_clip, tmp_path):
    import open_clip

    from safety.clip_concepts import CLIPConceptClassifier

    model, folder, checkpoint = tiny_clip
    cfg = tmp_path / "skyseal-tiny-test.json"
    cfg.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg)
    a = CLIPConceptClassifier(load_policy(), "skyseal-tiny-test", pretrained=str(checkpoint))
    b = CLIPConceptClassifier(load_policy(), "local-dir:" + str(folder))
    frames = np.full((2, 40, 40, 3), 128, np.uint8)
    np.testing.assert_allclose(a.similarities(frames), b.similarities(frames), atol=1e-5)
    assert a.source == "clip:skyseal-tiny-test/tiny.pt"


def test_clip_in_the_output_classifier_and_pooled_over_time(tiny_clip):
    _, folder, _ = tiny_clip
    policy = load_policy()
    for rules in policy.categories.values():  # max pooling only here; the temporal rule has its own test
        rules.checks = [c for c in rules.checks if c != "temporal"]
    oc = build_output_classifier(policy, nudity=False, faces=False, clip_model="local-dir:" + str(folder))
    frames = np.random.default_rng(1).integers(0, 255, (9, 48, 48, 3), dtype=np.uint8)
    d = oc.classify(frames, fps=4)
    clf = oc.scorers[0]
    sampled = frames[[0, 2, 4, 6, 8]]
    expect = clf.score_frames(sampled)
    assert d.checks == (clf.source,)
    for cat, per_frame in expect.items():
        assert d.categories[cat] == pytest.approx(float(per_frame.max()), abs=1e-5)
        assert [0, 2, 4, 6, 8][int(per_frame.argmax())] in d.frames[cat]


def test_clip_without_weights_is_a_clear_error(tmp_path):
    from safety.clip_concepts import CLIPConceptClassifier

    clf = CLIPConceptClassifier(load_policy(), "ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=tmp_path)
    with pytest.raises(ClassifierLoadError, match="cannot load CLIP model 'ViT-B-32'"):
        clf.score_frames(np.zeros((1, 32, 32, 3), np.uint8))
