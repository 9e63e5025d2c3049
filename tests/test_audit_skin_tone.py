"""The skin-tone instrument: ITA, the Monk mapping, and skin/head detection on rendered figures."""

import itertools

import numpy as np
import pytest

from audits.skin_tone import (
    CB_RANGE, CR_RANGE, MONK_SWATCHES_HEX, head_mask, ita_degrees, ita_to_monk, measure_skin_tone, monk_ita, monk_rgb,
    rgb_to_lab, skin_mask,
)


def test_monk_copy_matches_the_generators_palette():
    from generator.world import MONK_SKIN_TONES

    assert MONK_SWATCHES_HEX == MONK_SKIN_TONES


def test_lab_conversion_agrees_with_scikit_image_d65():
    from skimage.color import rgb2lab

    rgb = monk_rgb()
    assert np.abs(rgb_to_lab(rgb) - rgb2lab(rgb[None])[0]).max() < 0.5


def test_ita_follows_its_definition():
    lab = np.array([[70.0, 10.0, 20.0], [30.0, 5.0, 10.0]])
    expected = np.degrees(np.arctan((lab[:, 0] - 50) / lab[:, 2]))
    assert np.allclose(ita_degrees(lab), expected)
    assert np.isfinite(ita_degrees(np.array([40.0, 0.0, 0.0])))  # b* = 0 stays finite


def test_monk_ita_falls_from_lightest_to_darkest():
    ita = monk_ita()
    assert np.all(np.diff(ita) < 0)
    assert ita[0] > 55 and ita[-1] < -30  # "very light" and "dark" in Chardon's bands


def test_each_swatch_maps_back_to_its_own_index():
    rgb = monk_rgb()
    measured = ita_to_monk(ita_degrees(rgb_to_lab(rgb)))
    assert measured.astype(int).tolist() == list(range(1, 11))
    # Solid swatch patches through the full measurement, not just the mapping.
    for i, colour in enumerate(rgb, start=1):
        patch = np.broadcast_to(colour, (64, 64, 3)).copy()
        assert int(ita_to_monk(np.median(ita_degrees(rgb_to_lab(patch[skin_mask(patch)]))))) == i


def test_bgr_fed_as_rgb_breaks_the_round_trip():
    """The published-code bug: OpenCV's BGR order passed where RGB is meant flips b* and turns light skin dark."""
    bgr = monk_rgb()[:, ::-1]
    assert (ita_to_monk(ita_degrees(rgb_to_lab(bgr))).astype(int) != np.arange(1, 11)).sum() >= 6
    lab = rgb_to_lab(bgr)
    textbook_ita = np.degrees(np.arctan((lab[:, 0] - 50) / lab[:, 2]))
    assert (ita_to_monk(textbook_ita[:3]) >= 8).all()  # the three lightest swatches read as among the darkest


def test_skin_box_sees_the_whole_monk_scale_where_the_textbook_box_does_not():
    import cv2

    ycrcb = cv2.cvtColor(monk_rgb()[None], cv2.COLOR_RGB2YCrCb)[0]
    assert skin_mask(monk_rgb()[None]).all()
    textbook = (ycrcb[:, 1] >= 133) & (ycrcb[:, 1] <= 173) & (ycrcb[:, 2] >= 77) & (ycrcb[:, 2] <= 127)
    assert not textbook[-1]  # Chai & Ngan's box misses Monk 10
    assert CR_RANGE[0] <= 130 and CB_RANGE[1] >= 126


def test_neutral_backgrounds_are_not_skin():
    from generator.world import BACKGROUNDS

    colours = np.array([c for pair in BACKGROUNDS.values() for c in pair] + [(128, 128, 128), (0, 0, 0)], dtype=np.uint8)
    assert not skin_mask(colours[None]).any()


def test_measured_tone_is_the_drawn_tone_for_every_role_and_background():
    size = 64  # the hardest case: necks and hat brims blur into faces; larger sizes are checked end to end
    from generator.world import BACKGROUNDS, ROLES, Person, Scene, render_clip

    # Every role (some wear skin-coloured clothes or hats), every swatch; backgrounds and gait rotate.
    cases = list(itertools.product(ROLES, range(1, 11)))
    backgrounds, motions = list(BACKGROUNDS), ["static", "left", "right"]
    wrong = []
    for k, (role, tone) in enumerate(cases):
        scene = Scene(background=backgrounds[k % len(backgrounds)], person=Person(role, tone, motions[k % 3]))
        got = measure_skin_tone(render_clip(scene, frames=2, size=size))
        if got.monk != tone:
            wrong.append((role, tone, got.monk))
    assert wrong == []


def test_a_skin_coloured_jacket_is_not_measured_as_the_face():
    from generator.world import Person, Scene, render_clip

    # The teacher's brown jacket sits near Monk 6; the face is Monk 1.
    frame = render_clip(Scene(person=Person("teacher", 1)), frames=1, size=128)[0]
    assert skin_mask(frame).sum() > 2 * head_mask(frame).sum()
    naive = int(ita_to_monk(np.median(ita_degrees(rgb_to_lab(frame[skin_mask(frame)])))))
    assert naive >= 5  # colour alone is fooled
    assert measure_skin_tone(frame[None]).monk == 1


@pytest.mark.parametrize("colour", ["brown", "orange", "blue"])
def test_no_person_no_measure(colour):
    from generator.world import Scene, SceneObject, render_clip

    # A skin-coloured ball is round and skin-coloured, but no body stands under it.
    clip = render_clip(Scene(background="grey", objects=(SceneObject("circle", colour, "large"),)), frames=2, size=96)
    m = measure_skin_tone(clip)
    assert m.monk is None and m.frames_with_head == 0


def test_rejects_non_rgb_input():
    with pytest.raises(ValueError):
        measure_skin_tone(np.zeros((2, 8, 8)))
