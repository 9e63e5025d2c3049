"""The evaluation judges: right on the world's own renders, and able to say no."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from generator.evaluate import accuracy, heldout_cases, judge_clip, judge_colour, judge_motion, judge_person, judge_shape
from generator.world import COLOURS, MOTIONS, SHAPES, Person, Scene, SceneObject, render_clip


def test_judges_score_ground_truth_renders_near_perfectly():
    cases = heldout_cases(60, seed=5)
    verdicts = [judge_clip(render_clip(scene, frames=16, size=32), scene, caption) for scene, caption in cases]
    acc = accuracy(verdicts)
    assert {"colour", "shape", "motion"} <= set(acc)
    for attribute, (fraction, count) in acc.items():
        assert count > 0
        assert fraction >= 0.95, (attribute, fraction)


def test_every_colour_shape_and_motion_is_told_apart():
    rng = np.random.default_rng(0)
    for colour in COLOURS:
        for shape in SHAPES:
            motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
            scene = Scene(background="dusk", objects=(SceneObject(shape, colour, "medium", motion),),
                          start=(0.5, float(rng.uniform(0.3, 0.7))))
            clip = render_clip(scene, frames=16, size=32)
            assert judge_colour(clip, scene) == colour
            assert judge_shape(clip, scene) == shape
            assert judge_motion(clip, scene) == motion


def test_judges_work_at_delivery_resolution_too():
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        colour, motion = list(COLOURS)[int(rng.integers(len(COLOURS)))], MOTIONS[int(rng.integers(len(MOTIONS)))]
        scene = Scene(background="forest", objects=(SceneObject(shape, colour, "small", motion),))
        clip = render_clip(scene, frames=16, size=64)
        assert judge_clip(clip, scene).correct == {"colour": True, "shape": True, "motion": True}


def test_wrong_clips_are_judged_wrong():
    """Judge a clip against another scene's description: the judges must fail it."""
    asked = Scene(background="night", objects=(SceneObject("triangle", "red", "large", "left"),), start=(0.5, 0.5))
    shown = Scene(background="night", objects=(SceneObject("circle", "blue", "large", "right"),), start=(0.5, 0.4))
    verdict = judge_clip(render_clip(shown, frames=16, size=32), asked)
    assert verdict.correct == {"colour": False, "shape": False, "motion": False}

    empty = np.broadcast_to(render_clip(Scene(background="night"), frames=16, size=32), (16, 32, 32, 3))
    assert not any(judge_clip(empty, asked).correct.values())

    noise = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    assert sum(judge_clip(noise, asked).correct.values()) <= 1


def test_motion_judge_ignores_the_lane():
    for lane in (0.3, 0.5, 0.7):
        scene = Scene(background="grey", objects=(SceneObject("square", "green", "small", "up"),), start=(0.5, lane))
        assert judge_motion(render_clip(scene, frames=16, size=32), dataclasses.replace(scene, start=(0.5, 0.5))) == "up"


def test_person_judge_reads_role_tone_and_direction_and_rejects_the_wrong_one():
    for role, tone, motion in [("firefighter", 2, "left"), ("nurse", 9, "right"), ("chef", 5, "static"),
                               ("doctor", 1, "static"), ("police officer", 7, "right")]:
        scene = Scene(background="grey", person=Person(role, tone, motion))
        judged = judge_person(render_clip(scene, frames=16, size=32), scene)
        assert judged["role"] == role and judged["swatch"] == tone and judged["person_motion"] == motion
    asked = Scene(background="grey", person=Person("doctor", 1, "left"))
    shown = Scene(background="grey", person=Person("farmer", 10, "right"))
    verdict = judge_clip(render_clip(shown, frames=16, size=32), asked)
    assert verdict.correct == {"role": False, "tone": False, "person_motion": False}


def test_contact_sheet_is_written(tmp_path):
    from generator.evaluate import contact_sheet

    cases = heldout_cases(3, seed=1)
    clips = [render_clip(s, frames=16, size=32) for s, _ in cases]
    verdicts = [judge_clip(c, s, cap) for c, (s, cap) in zip(clips, cases)]
    contact_sheet(clips, verdicts, tmp_path / "sheet.png")
    from PIL import Image

    assert Image.open(tmp_path / "sheet.png").size[1] == 3 * 66
