"""Output classification: per-frame classifiers on sampled frames, scores pooled over time.

Pooling: a category's score is the max over sampled frames, or, where the policy asks
for the ``temporal`` check, the noisy-OR of ``temporal_window`` consecutive frames when
that is higher (weak evidence that persists across a sequence counts as strong evidence).
Rules that combine evidence: faces in the output + a prompt about a real person ->
likeness review; a prompt about a minor + any nudity signal -> sexual_minors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from .decision import Decision, Finding, strictest
from .faces import FaceDetector
from .frames import sample_frame_indices
from .policy import Policy, load_policy

log = logging.getLogger("safety.decisions")

# NudeNet classes that count as sexual content; covered or incidental body parts
# (feet, armpits, belly, covered breasts) do not.
EXPLICIT_CLASSES = frozenset(
    {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"}
)


@lru_cache(maxsize=1)
def _nude_detector():
    from nudenet import NudeDetector  # bundles 320n.onnx (AGPL-3.0): works offline

    return NudeDetector()


class NudityDetector:
    """NudeNet (320n ONNX, AGPL-3.0 licensed) as a per-frame scorer for the 'sexual' category."""

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


def temporal_score(scores: np.ndarray, window: int = 3, floor: float = 0.15) -> tuple[float, slice]:
    """Highest noisy-OR ``1 - prod(1 - s)`` over ``window`` consecutive frames, counting only
    scores >= ``floor`` (so noise never adds up); and the window that gave it."""
    s = np.where(scores >= floor, scores, 0.0).astype(np.float64)
    if len(s) < window or not s.any():
        return 0.0, slice(0, 0)
    best, where = 0.0, slice(0, 0)
    for start in range(len(s) - window + 1):
        chunk = s[start:start + window]
        if (chunk > 0).all():  # only an unbroken run counts as a sequence
            value = 1.0 - float(np.prod(1.0 - chunk))
            if value > best:
                best, where = value, slice(start, start + window)
    return best, where


def _has_run(mask: np.ndarray, length: int) -> bool:
    run = 0
    for m in mask:
        run = run + 1 if m else 0
        if run >= length:
            return True
    return False


class OutputClassifier:
    """Run frame classifiers on sampled frames and decide under the policy's output categories.

    ``scorers``: objects with ``source`` and ``score_frames(frames)`` returning per-frame scores,
    either an array for their ``category`` or a dict category -> array (see CLIPConceptClassifier).
    Default: NudeNet.  ``face_detector``: a FaceDetector (default) or None to skip the face rules.
    """

    def __init__(self, policy: Policy | None = None, scorers: Iterable | None = None, *, sample_rate: float = 2.0,
                 face_detector: FaceDetector | None | bool = True, temporal_window: int = 3, temporal_floor: float = 0.15) -> None:
        self.policy = policy or load_policy()
        self.scorers = list(scorers) if scorers is not None else [NudityDetector()]
        self.sample_rate = sample_rate
        self.face_detector = FaceDetector() if face_detector is True else (face_detector or None)
        self.temporal_window = temporal_window
        self.temporal_floor = temporal_floor

    def __call__(self, frames: np.ndarray, fps: float, *, prompt_decision: Decision | None = None) -> Decision:
        return self.classify(frames, fps, prompt_decision=prompt_decision)

    def classify(self, frames: np.ndarray, fps: float, *, prompt_decision: Decision | None = None) -> Decision:
        """Decide on a T x H x W x 3 uint8 video.  ``prompt_decision`` (optional) lets the face rules
        use what the prompt was about (a real person, a minor)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames T x H x W x 3, got {frames.shape}")
        idx = sample_frame_indices(len(frames), fps, self.sample_rate)
        sampled = frames[idx]
        rules = self.policy.for_stage("output")
        findings: list[Finding] = []
        scores: dict[str, float] = {}
        frames_of: dict[str, tuple[int, ...]] = {}
        per_frame: dict[str, np.ndarray] = {}
        checks: list[str] = []

        for scorer in self.scorers:
            categories = list(getattr(scorer, "categories", None) or [scorer.category])
            if not any(c in rules for c in categories):
                continue
            result = scorer.score_frames(sampled)
            if isinstance(result, np.ndarray):
                result = {scorer.category: result}
            checks.append(scorer.source)
            for category, arr in result.items():
                if category not in rules or len(arr) == 0:
                    continue
                arr = np.asarray(arr, np.float32)
                per_frame[category] = np.maximum(per_frame[category], arr) if category in per_frame else arr
                self._pool(category, arr, scorer.source, idx, rules[category], findings, scores, frames_of)

        flags: list[str] = []
        if self.face_detector is not None and any(rules[c].uses("faces") for c in rules):
            checks.append(self.face_detector.source)
            faces = self.face_detector.predict(sampled)
            if faces.any():
                flags.append("faces_present")
                self._face_rules(faces, idx, rules, prompt_decision, per_frame, findings, scores, frames_of)

        action = strictest(rules[c].action_for(s) for c, s in scores.items())
        decision = Decision(action=action, stage="output", policy_version=self.policy.version, categories=scores,
                            findings=tuple(findings), flags=tuple(flags), checks=tuple(checks), frames=frames_of)
        if log.isEnabledFor(logging.INFO):
            log.info("output decision", extra={"decision": decision.to_dict()})
        return decision

    def _pool(self, category, arr, source, idx, rule, findings, scores, frames_of) -> None:
        threshold = rule.review_threshold
        top_i = int(arr.argmax())
        top = float(arr[top_i])
        driving = idx[arr >= threshold] if top >= threshold else idx[[top_i]]
        if top >= scores.get(category, -1.0):
            scores[category] = top
            frames_of[category] = tuple(int(i) for i in driving)
        if top >= threshold:
            findings.append(Finding(category, round(top, 4), source, evidence=f"frames {driving.tolist()}",
                                    frames=tuple(int(i) for i in driving)))
        if rule.uses("temporal"):
            value, window = temporal_score(arr, self.temporal_window, self.temporal_floor)
            if value > top and value >= threshold:
                run = tuple(int(i) for i in idx[window])
                findings.append(Finding(category, round(value, 4), f"temporal:{source}",
                                        evidence=f"sustained across consecutive frames {list(run)}", frames=run))
                if value >= scores.get(category, -1.0):
                    scores[category] = value
                    frames_of[category] = run

    def _face_rules(self, faces, idx, rules, prompt_decision, per_frame, findings, scores, frames_of) -> None:
        face_frames = tuple(int(i) for i in idx[faces])
        prompt_flags = set(prompt_decision.flags) if prompt_decision is not None else set()
        likeness = "real_person_likeness"
        if likeness in rules and rules[likeness].uses("faces") and (
                "mentions_real_person" in prompt_flags or (prompt_decision is not None and likeness in prompt_decision.categories)):
            # A face that persists across frames is a person on screen; one in a single frame may be a cascade false hit.
            score = 0.9 if _has_run(faces, 2) or len(faces) < 2 else 0.6
            findings.append(Finding(likeness, score, f"rule:faces+prompt:{self.face_detector.source}",
                                    evidence=f"faces in frames {list(face_frames)}; the prompt names a real person",
                                    frames=face_frames))
            scores[likeness] = max(scores.get(likeness, 0.0), score)
            frames_of[likeness] = face_frames
        minors = "sexual_minors"
        nudity = per_frame.get("sexual")
        if minors in rules and rules[minors].uses("faces") and "mentions_minor" in prompt_flags and nudity is not None:
            # Any nudity signal in a video whose prompt is about a child is judged against the minors thresholds.
            top_i = int(nudity.argmax())
            score = float(nudity[top_i])
            if score >= rules[minors].review_threshold:
                driving = tuple(int(i) for i in idx[nudity >= rules[minors].review_threshold])
                findings.append(Finding(minors, round(score, 4), "rule:nudity+faces+prompt-minor",
                                        evidence=f"nudity in frames {list(driving)}, faces in frames {list(face_frames)}; "
                                                 "the prompt is about a minor", frames=driving))
                scores[minors] = max(scores.get(minors, 0.0), score)
                frames_of[minors] = driving


def build_output_classifier(policy: Policy, *, sample_rate: float = 2.0, nudity: bool = True, faces: bool = True,
                            clip_model: str | None = None, clip_pretrained: str | None = None,
                            clip_cache_dir=None) -> OutputClassifier:
    """The default output classifier: NudeNet and faces, plus CLIP concepts when weights are configured."""
    scorers: list = [NudityDetector()] if nudity else []
    if clip_model:
        from .clip_concepts import CLIPConceptClassifier

        scorers.append(CLIPConceptClassifier(policy, clip_model, clip_pretrained, clip_cache_dir))
    return OutputClassifier(policy, scorers, sample_rate=sample_rate, face_detector=faces)
