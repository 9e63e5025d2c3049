import numpy as np
import pytest

from generator import ProceduralGenerator, upscale
from generator.world import (
    COLOURS, HELD_OUT_PAIRS, Person, Scene, SceneObject, describe, load_demographics, parse, render_clip, sample_captioned,
)


def _foreground(clip, scene):
    bg = render_clip(Scene(background=scene.background), frames=len(clip), size=clip.shape[1]).astype(int)
    return np.abs(clip.astype(int) - bg).sum(-1) > 60


def test_render_is_deterministic_and_shaped():
    scene = Scene(background="night", objects=(SceneObject("circle", "red", "large", "right"),))
    a = render_clip(scene, frames=16, size=32)
    assert a.shape == (16, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render_clip(scene, frames=16, size=32))


@pytest.mark.parametrize("motion,axis,sign", [("right", 1, 1), ("left", 1, -1), ("down", 0, 1), ("up", 0, -1)])
def test_motion_moves_the_object_the_captioned_way(motion, axis, sign):
    scene = Scene(background="black", objects=(SceneObject("square", "yellow", "small", motion),))
    clip = render_clip(scene, frames=8, size=64)
    fg = _foreground(clip, scene)
    first = np.argwhere(fg[0]).mean(0)[axis]
    last = np.argwhere(fg[-1]).mean(0)[axis]
    assert sign * (last - first) > 20


def test_colour_is_drawn_as_named():
    scene = Scene(background="black", objects=(SceneObject("circle", "blue", "large", "static"),))
    clip = render_clip(scene, frames=1, size=64)
    centre = clip[0, 28:36, 28:36].reshape(-1, 3).mean(0)
    assert np.abs(centre - COLOURS["blue"]).max() < 3


def test_captions_vary_and_parse_back():
    rng = np.random.default_rng(0)
    captions, checked = set(), 0
    for _ in range(200):
        scene, caption = sample_captioned(rng, tone_caption_rate=1.0)
        captions.add(caption)
        parsed = parse(caption)
        if scene.person is not None:
            assert parsed.role == scene.person.role, caption
            assert parsed.tone_band is not None, caption
        else:
            obj = scene.objects[0]
            assert (parsed.colour, parsed.shape, parsed.motion) == (obj.colour, obj.shape, obj.motion), caption
        assert parsed.background == scene.background, caption
        checked += 1
    assert len(captions) > 150  # not one template


def test_training_split_never_shows_held_out_pairs():
    rng = np.random.default_rng(1)
    for _ in range(500):
        scene, _ = sample_captioned(rng, split="train")
        for obj in scene.objects:
            assert (obj.colour, obj.shape) not in HELD_OUT_PAIRS
    scene, _ = sample_captioned(np.random.default_rng(2), split="heldout")
    assert scene.person is not None or (scene.objects[0].colour, scene.objects[0].shape) in HELD_OUT_PAIRS


def test_planted_skew_is_in_the_sampler():
    from generator.world.sampling import sample_person

    rng = np.random.default_rng(3)
    tones = np.array([sample_person(rng, "doctor").skin_tone for _ in range(2000)])
    expected = load_demographics()["doctor"] @ np.arange(1, 11)
    assert abs(tones.mean() - expected) < 0.15
    assert tones.mean() < np.mean([sample_person(rng, "nurse").skin_tone for _ in range(2000)]) - 2


def test_person_rejects_bad_swatch():
    with pytest.raises(ValueError):
        Person("doctor", 11)


def test_procedural_generator_follows_prompt_and_seed():
    gen = ProceduralGenerator(size=64)
    a = gen("a big green ball moving right", seed=5)
    b = gen("a big green ball moving right", seed=5)
    assert np.array_equal(a.frames, b.frames)
    obj = a.details["scene"]["objects"][0]
    assert (obj["colour"], obj["shape"], obj["motion"]) == ("green", "circle", "right")


def test_upscale_to_delivery_size():
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    out = upscale(frames, 256)
    assert out.shape == (4, 256, 256, 3) and out.dtype == np.uint8
    assert abs(out.mean() - frames.mean()) < 3
