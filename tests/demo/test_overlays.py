import numpy as np

from demo import overlays
from jrc.detector import FaceResult
from jrc.faces import crop_box


def result(box=(40.0, 30.0, 100.0, 110.0), score=0.9, label="fake", size=32, mask=True):
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return FaceResult(box, 0.95, score, label, crop, reconstruction=crop[::-1].copy(),
                      residual=np.linspace(0, 1, size * size, dtype=np.float32).reshape(size, size),
                      mask=np.eye(size, dtype=np.float32) if mask else None)


def test_heatmap_fixed_scale():
    h = overlays.heatmap(np.array([[0.0, overlays.RESIDUAL_VMAX, 1.0]], np.float32))
    assert h.shape == (1, 3, 3) and h.dtype == np.uint8
    assert h[0, 0].sum() < 30  # black at 0
    assert (h[0, 1] == h[0, 2]).all()  # saturated at and above vmax


def test_mask_overlay_tints_only_masked_pixels():
    crop = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), np.float32)
    mask[1, 1] = 1.0
    out = overlays.mask_overlay(crop, mask)
    assert (out[0, 0] == 100).all()
    assert out[1, 1, 0] > 150 and out[1, 1, 1] < 100  # red


def test_draw_faces_colours_box_by_verdict():
    img = np.zeros((200, 200, 3), np.uint8)
    out = overlays.draw_faces(img, [result(label="fake"), result(box=(120, 120, 180, 190), label="real",
                                                                 score=0.1)])
    assert tuple(out[70, 40]) == overlays.FAKE_RGB  # left edge of the fake box
    assert tuple(out[150, 180]) == overlays.REAL_RGB  # right edge of the real box
    assert img.sum() == 0  # input untouched


def test_face_panel_tiles_and_mask_placeholder():
    with_mask = overlays.face_panel(result(), "t")
    without = overlays.face_panel(result(mask=False), "t")
    assert with_mask.shape == without.shape and with_mask.shape[1] == 4 * 32 + 5 * 6
    x = 6 + 3 * (32 + 6)  # the mask tile
    tile = without[36:36 + 32, x:x + 32]
    assert tile.std() > 0 and (tile == 60).mean() > 0.8  # grey placeholder with text
    assert not np.array_equal(with_mask[36:68, x:x + 32], tile)
    assert (with_mask[:34] == overlays.FAKE_RGB).all(axis=2).mean() > 0.5  # title bar in verdict colour


def test_stack_panels():
    assert overlays.stack_panels([]) is None
    p = np.zeros((10, 20, 3), np.uint8)
    assert overlays.stack_panels([p, p]).shape == (28, 20, 3)


def test_blend_in_crop_only_touches_the_crop_square():
    frame = np.zeros((200, 300, 3), np.uint8)
    box = (100.0, 60.0, 160.0, 130.0)
    overlays.blend_in_crop(frame, box, np.full((8, 8, 3), 200, np.uint8), 1.0, 0.0, alpha=1.0)
    x0, y0, side = crop_box(box, 1.0, 0.0)
    assert (frame[y0:y0 + side, x0:x0 + side] == 200).all()
    assert frame.sum() == 200 * 3 * side * side


def test_blend_in_crop_clips_at_the_border():
    frame = np.zeros((50, 50, 3), np.uint8)
    tile = np.full((8, 8, 3), 255, np.uint8)
    overlays.blend_in_crop(frame, (-20.0, -20.0, 10.0, 10.0), tile, 1.0, 0.0, 1.0)
    assert frame[0, 0].all() and not frame[49, 49].any()


def test_annotate_frame_overlay_choices():
    img = np.zeros((200, 200, 3), np.uint8)
    r = result()
    plain = overlays.annotate_frame(img, [r], "none")
    resid = overlays.annotate_frame(img, [r], "residual")
    assert np.array_equal(plain, overlays.draw_faces(img, [r], numbered=False))
    assert resid.sum() > plain.sum()
    no_mask = overlays.annotate_frame(img, [result(mask=False)], "mask")
    assert np.array_equal(no_mask, plain)  # nothing to blend


def test_fit_never_upscales():
    img = np.zeros((100, 400, 3), np.uint8)
    assert overlays.fit(img, 800) is img
    assert overlays.fit(img, 200).shape == (50, 200, 3)


def test_timeline_frame_has_tracks_and_threshold():
    tl = [{"frame": 0, "time": 0.0, "faces": [{"track": 0, "score": 0.2}, {"track": 1, "score": 0.9}]},
          {"frame": 10, "time": 0.4, "faces": [{"track": 0, "score": 0.3}]}]
    df = overlays.timeline_frame(tl, 0.6)
    assert sorted(set(df["series"])) == ["threshold", "track 0", "track 1"]
    thr = df[df["series"] == "threshold"]
    assert list(thr["x"]) == [0.0, 0.4] and (thr["P(fake)"] == 0.6).all()
    assert df[df["series"] == "track 0"]["P(fake)"].tolist() == [0.2, 0.3]
    colors = overlays.series_colors(df)
    assert set(colors) == set(df["series"]) and len(set(colors.values())) == 3
    assert overlays.timeline_frame([], 0.5).empty


def test_timeline_falls_back_to_frame_numbers():
    tl = [{"frame": 5, "time": None, "faces": [{"track": 0, "score": 0.5}]}]
    assert overlays.timeline_frame(tl, 0.5)["x"].tolist()[0] == 5


def test_annotate_frame_uses_each_faces_own_framing():
    frame = np.zeros((200, 200, 3), np.uint8)
    r = FaceResult((80, 80, 120, 120), 0.9, 0.1, "real", np.zeros((8, 8, 3), np.uint8),
                   residual=np.ones((8, 8), np.float32), framing=(2.0, 0.0))
    out = overlays.annotate_frame(frame, [r], "residual", framing=(1.0, 0.0), alpha=1.0)
    assert out[100, 65].any()  # left of the box, inside its own 2x crop square (60..140): overlaid
    assert not out[100, 50].any()  # outside that square: untouched


def test_empty_mask_says_nothing_marked():
    empty = result(size=128)
    empty.mask = np.zeros((128, 128), np.float32)
    marked = result(size=128)  # its mask marks the diagonal
    assert not overlays.mask_marks(empty.mask) and overlays.mask_marks(marked.mask)
    blank_tile = overlays.face_tiles(empty)[3]
    plain = overlays.mask_overlay(empty.crop, empty.mask)
    assert not np.array_equal(blank_tile, plain)  # the "nothing marked" tag is drawn on it
    assert np.array_equal(overlays.face_tiles(marked)[3], overlays.mask_overlay(marked.crop, marked.mask))


def test_residual_tile_has_a_colour_legend():
    s = 96
    panel = overlays.face_panel(result(size=s), "t")
    x = 6 + 2 * (s + 6)  # the residual tile
    bar = panel[34 + s + 24:34 + s + 32, x:x + s]
    assert np.array_equal(bar, overlays.residual_legend(s, 8))
    assert bar[:, 0].sum() < bar[:, -1].sum()  # dark (0) on the left, bright (vmax) on the right
    no_decoder = result(size=s)
    no_decoder.residual = None
    assert (overlays.face_panel(no_decoder, "t")[34 + s + 24:34 + s + 32, x:x + s] == 255).all()
