"""The passive probe: trained and scored on real clips, reported by the detector, never deciding 'generated here'."""

import numpy as np

from provenance.probe import FrameProbe, embed_frames
from skyseal.config import Settings
from skyseal.train_probe import evaluate, make_dataset


def test_probe_separates_generated_from_camera_clips_on_held_out_clips(tmp_path):
    settings = Settings(home=tmp_path / "home", generator={"delivery_size": 128})
    clips, labels = make_dataset(8, 8, frames=3, size=128, seed=3, settings=settings)
    result = evaluate(clips, labels, seed=3)
    assert result["test_clips"] >= 6 and result["clip_auc"] >= 0.9
    probe = result["probe"]
    probe.save(tmp_path / "probe.joblib")
    again = FrameProbe.load(tmp_path / "probe.joblib")
    assert np.allclose(again.predict_proba(clips[0]), probe.predict_proba(clips[0]))
    assert set(probe.predict(clips[-1])) <= {0, 1} and embed_frames(clips[0]).shape == (3, 32)


def test_detector_reports_the_probe_but_the_label_needs_provenance(tmp_path):
    from skyseal.batch import Detector
    from skyseal.evaluate_detector import natural_clip, natural_photos
    from skyseal.media import encode_mp4

    settings = Settings(home=tmp_path / "home", generator={"delivery_size": 128})
    clips, labels = make_dataset(6, 6, frames=3, size=128, seed=5, settings=settings)
    settings.home.mkdir(parents=True)
    FrameProbe().fit(np.concatenate(clips), np.repeat(labels, 3)).save(settings.home / "probe.joblib")
    # A generated clip that we never delivered (no watermark, no record): the probe scores it high, the label
    # stays "no evidence".
    from generator import ProceduralGenerator

    encode_mp4(ProceduralGenerator(size=128)("a red ball bouncing in a park", seed=99, num_frames=4).frames, tmp_path / "lookalike.mp4")
    encode_mp4(natural_clip(natural_photos(), np.random.default_rng(0), n=4, size=128), tmp_path / "camera.mp4")
    detector = Detector.from_settings(settings)
    try:
        lookalike, camera = detector.verdict(tmp_path / "lookalike.mp4"), detector.verdict(tmp_path / "camera.mp4")
    finally:
        detector.close()
    assert lookalike.probe["generated_score"] > camera.probe["generated_score"]
    assert lookalike.label == camera.label == "no_evidence_found"
    assert not any(e.supports for e in lookalike.evidence)
