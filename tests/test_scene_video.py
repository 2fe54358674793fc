"""Tests for acoustic_camera.sim.scene_video: scenario backdrops and source sprites."""

import itertools

import cv2
import numpy as np
import pytest

from acoustic_camera.sim.scene_video import (
    CLASS_COLORS,
    SourceSprite,
    draw_frame,
    make_background,
)

from acoustic_camera.catalog import SCENARIOS as SCENARIO_NAMES
from acoustic_camera.errors import AcamError

W, H = 640, 480
CENTRE = (320.0, 240.0)
ALL_CLASSES = sorted(CLASS_COLORS)


def grey(width=W, height=H):
    return np.full((height, width, 3), 128, np.uint8)


def changed(frame, background):
    """Boolean (h, w) mask of pixels the drawing touched."""
    return np.any(frame != background, axis=2)


def colour_distance(frame, colour):
    return np.linalg.norm(frame.astype(np.float64) - np.asarray(colour, np.float64), axis=2)


def disc(radius, centre=CENTRE, width=W, height=H):
    yy, xx = np.mgrid[0:height, 0:width]
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2


# ----------------------------------------------------------------------------- backgrounds


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
@pytest.mark.parametrize("size", [(640, 480), (320, 240)])
def test_background_shape_and_dtype(scenario, size):
    width, height = size
    img = make_background(scenario, width, height, np.random.default_rng(0))
    assert img.shape == (height, width, 3)
    assert img.dtype == np.uint8


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_background_deterministic_given_seed(scenario):
    a = make_background(scenario, W, H, np.random.default_rng(42))
    b = make_background(scenario, W, H, np.random.default_rng(42))
    c = make_background(scenario, W, H, np.random.default_rng(43))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_background_non_trivial(scenario):
    img = make_background(scenario, W, H, np.random.default_rng(1))
    assert img.std() > 10.0
    # Not one flat colour plus grain: many distinct grey levels.
    assert len(np.unique(img.mean(axis=2).round())) > 50


def test_backgrounds_differ_across_scenarios():
    imgs = {s: make_background(s, W, H, np.random.default_rng(7)).astype(np.float64) for s in SCENARIO_NAMES}
    for a, b in itertools.combinations(SCENARIO_NAMES, 2):
        assert np.abs(imgs[a] - imgs[b]).mean() > 20.0, (a, b)


def test_outdoor_sky_is_blue_at_top():
    # RGB order: in the top rows blue must dominate red.
    img = make_background("outdoor", W, H, np.random.default_rng(3)).astype(np.float64)
    top = img[: H // 10].reshape(-1, 3).mean(axis=0)
    assert top[2] > top[0] + 40.0


def test_unknown_scenario_raises_naming_it_and_valid_names():
    with pytest.raises(AcamError, match="underwater") as info:
        make_background("underwater", W, H, np.random.default_rng(0))
    for name in SCENARIO_NAMES:
        assert name in str(info.value)


# ----------------------------------------------------------------------------- class colours


def test_class_colors_distinct_and_saturated():
    from acoustic_camera.catalog import SOUND_CLASSES

    assert set(CLASS_COLORS) == set(SOUND_CLASSES)
    for colour in CLASS_COLORS.values():
        assert len(colour) == 3 and all(0 <= c <= 255 for c in colour)
        assert max(colour) - min(colour) >= 150  # saturated
    for a, b in itertools.combinations(CLASS_COLORS.values(), 2):
        assert np.linalg.norm(np.subtract(a, b)) > 80.0


# ----------------------------------------------------------------------------- draw_frame


def test_draw_frame_returns_new_image_and_keeps_background():
    bg = make_background("indoor", W, H, np.random.default_rng(0))
    before = bg.copy()
    sprites = [SourceSprite(c, (100.0 + 60 * i, 250.0), 3.0, True) for i, c in enumerate(ALL_CLASSES)]
    frame = draw_frame(bg, sprites, frame_index=5)
    assert np.array_equal(bg, before)
    assert frame.shape == bg.shape and frame.dtype == np.uint8
    assert not np.shares_memory(frame, bg)
    assert changed(frame, bg).sum() > 1000


def test_draw_frame_without_sprites_is_copy():
    bg = make_background("anechoic", W, H, np.random.default_rng(0))
    assert np.array_equal(draw_frame(bg, []), bg)


@pytest.mark.parametrize("label", ALL_CLASSES)
@pytest.mark.parametrize("pixel", [CENTRE, (101.5, 377.25)])
def test_object_centred_on_emission_pixel(label, pixel):
    bg = grey()
    frame = draw_frame(bg, [SourceSprite(label, pixel, 3.0, False)])
    ys, xs = np.nonzero(changed(frame, bg))
    assert xs.min() <= pixel[0] <= xs.max() and ys.min() <= pixel[1] <= ys.max()
    # The class colour (the object) is present right at the emission point ...
    dist = colour_distance(frame, CLASS_COLORS[label])
    assert dist[disc(10, pixel)].min() < 30.0
    # ... and centred on it: the class-coloured blob nearest the pixel (not the label text,
    # notes or speech bubble) has its centroid there.
    n, labels, _, centroids = cv2.connectedComponentsWithStats((dist < 30.0).astype(np.uint8))
    yy, xx = np.nonzero(labels > 0)
    k = labels[yy, xx][np.argmin((xx - pixel[0]) ** 2 + (yy - pixel[1]) ** 2)]
    assert np.hypot(*(centroids[k] - pixel)) < 3.0


def test_unknown_label_still_drawn_at_pixel():
    bg = grey()
    frame = draw_frame(bg, [SourceSprite("didgeridoo", CENTRE, 3.0, True)])
    mask = changed(frame, bg)
    assert mask.sum() > 300
    assert mask[disc(5)].all()


def test_sprite_height_about_60px_at_3m_and_scales_with_width():
    # Rows above the emission point belong to the person (the label is below the feet).
    def extent(width, height, distance):
        bg = grey(width, height)
        pixel = (width / 2, height / 2)
        frame = draw_frame(bg, [SourceSprite("clapping", pixel, distance, False)])
        ys, _ = np.nonzero(changed(frame, bg))
        return pixel[1] - ys.min()  # head top to hands

    # Hands are 0.30 sprite heights below the head centre, head radius 0.085: ~0.385 h.
    assert 0.3 * 60 < extent(640, 480, 3.0) < 0.5 * 60
    assert extent(1280, 960, 3.0) == pytest.approx(2 * extent(640, 480, 3.0), rel=0.15)
    assert extent(640, 480, 1.5) == pytest.approx(2 * extent(640, 480, 3.0), rel=0.15)


@pytest.mark.parametrize("label", ALL_CLASSES)
def test_drawn_size_shrinks_with_distance(label):
    bg = grey()
    near = changed(draw_frame(bg, [SourceSprite(label, CENTRE, 2.0, False)]), bg).sum()
    far = changed(draw_frame(bg, [SourceSprite(label, CENTRE, 6.0, False)]), bg).sum()
    assert far < 0.45 * near


@pytest.mark.parametrize(
    "pixel",
    [(-400.0, 240.0), (1500.0, 240.0), (320.0, -900.0), (320.0, 5000.0), (1e12, -1e12), (float("nan"), 10.0)],
)
def test_sprite_outside_image_leaves_it_unchanged(pixel):
    bg = grey()
    frame = draw_frame(bg, [SourceSprite("hammering", pixel, 3.0, True)], frame_index=2)
    assert changed(frame, bg).mean() < 0.001


@pytest.mark.parametrize("pixel", [(0.0, 0.0), (639.0, 479.0), (-20.0, 240.0), (320.0, 490.0)])
def test_sprite_partly_outside_is_clipped(pixel):
    bg = grey()
    frame = draw_frame(bg, [SourceSprite("speech", pixel, 1.0, True)], frame_index=1)
    assert frame.shape == bg.shape
    assert changed(frame, bg).sum() > 50


def test_painters_order_nearer_sprite_on_top():
    bg = grey()
    near = SourceSprite("clapping", CENTRE, 2.0, False)
    far = SourceSprite("hammering", CENTRE, 5.0, False)
    for order in ([near, far], [far, near]):
        frame = draw_frame(bg, order)
        px = frame[int(CENTRE[1]), int(CENTRE[0])]
        assert colour_distance(px[None, None], CLASS_COLORS["clapping"])[0, 0] < 10.0
    assert np.array_equal(draw_frame(bg, [near, far]), draw_frame(bg, [far, near]))


def test_active_sprite_draws_arcs_that_pulse_with_frame_index():
    bg = grey()
    quiet = SourceSprite("knocking", CENTRE, 3.0, False)
    loud = SourceSprite("knocking", CENTRE, 3.0, True)
    n_quiet = changed(draw_frame(bg, [quiet]), bg).sum()
    f0 = draw_frame(bg, [loud], frame_index=0)
    assert changed(f0, bg).sum() > n_quiet + 100
    assert not np.array_equal(f0, draw_frame(bg, [loud], frame_index=1))
    assert np.array_equal(f0, draw_frame(bg, [loud], frame_index=0))
    # Inactive sprites do not animate.
    assert np.array_equal(draw_frame(bg, [quiet], frame_index=0), draw_frame(bg, [quiet], frame_index=3))


def test_bad_background_rejected():
    with pytest.raises(AcamError):
        draw_frame(np.zeros((48, 64), np.uint8), [])
    with pytest.raises(AcamError):
        draw_frame(np.zeros((48, 64, 3), np.float32), [])
