"""Output classification: per-frame detectors on sampled frames, scores pooled over time."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from .decision import Decision, Finding, strictest
from .frames import sample_frame_indices
from .policy import Policy, load_policy

# NudeNet classes that count as sexual content; covered or incidental body parts
# (feet, armpits, belly, covered breasts) do not.
EXPLICIT_CLASSES = frozenset(
    {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"}
)


@lru_cache(maxsize=1)
def _nude_detector():
    from nudenet import NudeDetector  # bundles 320n.onnx: works offline

    return NudeDetector()


class NudityDetector:
    """NudeNet (320n ONNX) as a per-frame scorer for the 'sexual' category."""

    category = "sexual"
    source = "nudenet:320n"

    def score_frames(self, frames: np.ndarray) -> np.ndarray:
        detector = _nude_detector()
        scores = np.zeros(len(frames), dtype=np.float32)
        for i, frame in enumerate(frames):
            rgba = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])  # NudeNet expects RGBA arrays
            for det in detector.detect(rgba):
                if det["class"] in EXPLICIT_CLASSES:
                    scores[i] = max(scores[i], float(det["score"]))
        return scores


class OutputClassifier:
    """Run frame scorers on sampled frames and decide under the policy's output categories."""

    def __init__(self, policy: Policy | None = None, scorers: Iterable | None = None, *, sample_rate: float = 2.0) -> None:
        self.policy = policy or load_policy()
        self.scorers = list(scorers) if scorers is not None else [NudityDetector()]
        self.sample_rate = sample_rate

    def __call__(self, frames: np.ndarray, fps: float) -> Decision:
        return self.classify(frames, fps)

    def classify(self, frames: np.ndarray, fps: float) -> Decision:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames T x H x W x 3, got {frames.shape}")
        idx = sample_frame_indices(len(frames), fps, self.sample_rate)
        sampled = frames[idx]
        rules = self.policy.for_stage("output")
        findings: list[Finding] = []
        scores: dict[str, float] = {}
        for scorer in self.scorers:
            if scorer.category not in rules:
                continue
            per_frame = scorer.score_frames(sampled)
            top = float(per_frame.max()) if len(per_frame) else 0.0
            scores[scorer.category] = max(scores.get(scorer.category, 0.0), top)
            if top >= rules[scorer.category].review_threshold:
                worst = idx[per_frame >= rules[scorer.category].review_threshold]
                findings.append(Finding(scorer.category, top, scorer.source, evidence=f"frames {worst.tolist()}"))
        action = strictest(rules[c].action_for(s) for c, s in scores.items())
        return Decision(action=action, stage="output", policy_version=self.policy.version, categories=scores,
                        findings=tuple(findings))
