"""Ray Data mode on a local Ray cluster gives the same records as the single-process detector."""

import numpy as np
import pytest

from skyseal.batch import Detector, detect_paths
from skyseal.media import encode_mp4

ray = pytest.importorskip("ray")


def test_ray_matches_single_process(generated, tmp_path):
    from provenance import strip_credentials
    from skyseal.distributed import detect_with_ray

    settings, result = generated
    strip_credentials(result.path, tmp_path / "remux.mp4")
    encode_mp4(np.random.default_rng(1).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8), tmp_path / "noise.mp4")
    (tmp_path / "bad.mp4").write_text("not a video")
    files = [result.path, tmp_path / "remux.mp4", tmp_path / "noise.mp4", tmp_path / "bad.mp4"]

    detector = Detector.from_settings(settings)
    try:
        local = list(detect_paths(detector, files))
    finally:
        detector.close()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = detect_with_ray(files, settings, batch_size=2)
    finally:
        ray.shutdown()
    assert [r["file"] for r in distributed] == [str(f) for f in files]
    assert [r["label"] for r in distributed] == [r["label"] for r in local] == [
        "generated_here_intact", "generated_here_credentials_stripped_or_reencoded", "no_evidence_found", None]
    assert distributed == local  # every field, evidence and error records included
