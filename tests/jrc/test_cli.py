"""`python -m jrc scan` end to end on real fixtures (needs trained weights)."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import scipy.special
from conftest import ROOT, needs_weights

from jrc import report, scan

pytestmark = needs_weights


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut, no_face_image, astronaut_video, bad_files):
    d = tmp_path_factory.mktemp("scan")
    cv2.imwrite(str(d / "astronaut.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d / "coffee.png"), cv2.cvtColor(no_face_image, cv2.COLOR_RGB2BGR))
    return {"astronaut": d / "astronaut.jpg", "coffee": d / "coffee.png", "video": astronaut_video,
            **bad_files, "folder": d}


def run_scan(*args: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "jrc", "scan", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    lines = [json.loads(s) for s in proc.stdout.splitlines() if s.strip()]
    return proc.returncode, lines, proc.stderr


def test_scan_mixed_inputs_one_run(inputs):
    order = ["astronaut", "coffee", "video", "empty", "text_mp4", "truncated"]
    code, recs, err = run_scan(*(str(inputs[k]) for k in order), "--frames", "6")
    assert code == 0, err
    by = dict(zip(order, recs, strict=True))
    for rec in recs:
        assert set(rec) >= {"path", "kind", "status", "score", "label", "threshold", "faces",
                            "frames", "error"}
    a = by["astronaut"]
    assert (a["kind"], a["status"], a["error"]) == ("image", "ok", None)
    assert 0.0 <= a["score"] <= 1.0 and len(a["faces"]) == 1
    assert a["label"] == ("fake" if a["score"] >= a["threshold"] else "real")
    assert a["warnings"] == []  # cv2 writes JPEG at quality 95: not heavily compressed
    assert by["coffee"]["status"] == "no_face" and by["coffee"]["score"] is None
    v = by["video"]
    assert (v["kind"], v["status"]) == ("video", "ok") and v["frames"] == 6
    assert len(v["timeline"]) == 6 and len(v["tracks"]) == 1 and 0 <= v["score"] <= 1
    for key, fragment in [("empty", "empty file"), ("text_mp4", "not a readable video"),
                          ("truncated", "truncated")]:
        rec = by[key]
        assert rec["status"] == "error" and rec["score"] is None and rec["label"] is None, key
        assert fragment in rec["error"] and str(inputs[key]) in rec["error"], rec["error"]
    assert "scanned" in err


def test_scan_folder_list_and_output(inputs, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{inputs['astronaut']}\n\n# comment\n")
    out = tmp_path / "out.jsonl"
    code, recs, err = run_scan(str(inputs["folder"]), "--list", str(listing), "--output", str(out))
    assert code == 0 and recs == [], err
    recs = [json.loads(s) for s in out.read_text().splitlines()]
    paths = [r["path"] for r in recs]
    assert paths.count(str(inputs["astronaut"])) == 2 and str(inputs["coffee"]) in paths


def test_scan_crops_mode(inputs, astronaut, tmp_path):
    face = cv2.cvtColor(astronaut[40:220, 120:300], cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "face.jpg"), face)
    code, recs, err = run_scan("--crops", str(tmp_path / "face.jpg"), str(inputs["truncated"]))
    assert code == 0, err
    assert recs[0]["kind"] == "crop" and recs[0]["status"] == "ok" and 0 <= recs[0]["score"] <= 1
    assert recs[0]["reframed"] is True and "box" in recs[0]["faces"][0]
    assert recs[1]["status"] == "error"
    code, flip, err = run_scan("--crops", "--tta", str(tmp_path / "face.jpg"))
    assert code == 0 and flip[0]["status"] == "ok", err
    logit = [float(scipy.special.logit(r[0]["score"])) for r in (recs, flip)]
    assert abs(logit[1] - logit[0]) > 1e-3  # the mirror was scored too (logits: scores near 0 or 1 saturate)
    assert flip[0]["tta"] is True and recs[0]["tta"] is False  # each record says how it was scored
    cv2.imwrite(str(tmp_path / "q30.jpg"), face, [cv2.IMWRITE_JPEG_QUALITY, 30])
    code, heavy, err = run_scan("--crops", str(tmp_path / "q30.jpg"), str(tmp_path / "face.jpg"))
    assert code == 0 and heavy[0]["status"] == "ok", err  # still scored, with the caution attached
    assert "quality ~30" in heavy[0]["warnings"][0] and heavy[1]["warnings"] == []
    code, recs, err = run_scan("--crops", "--as-given", str(tmp_path / "face.jpg"))
    assert code == 0 and recs[0]["status"] == "ok" and "reframed" not in recs[0], err
    code, _, err = run_scan("--as-given", str(tmp_path / "face.jpg"))
    assert code == 2 and "--crops" in err


def test_usage_and_weights_errors(tmp_path, inputs):
    code, _, err = run_scan()
    assert code == 2 and "nothing to scan" in err
    code, _, err = run_scan(str(inputs["astronaut"]), "--weights", str(tmp_path))
    assert code == 1 and "config.json" in err and "Traceback" not in err
    code, _, err = run_scan(str(inputs["astronaut"]), "--backend", "bogus")
    assert code == 2 and "argument --backend: invalid choice: 'bogus'" in err
    for out, fragment in [(tmp_path / "nowhere" / "r.jsonl", "does not exist"),
                          (tmp_path, "is a folder")]:
        code, _, err = run_scan(str(inputs["astronaut"]), "--output", str(out))
        assert code == 2 and fragment in err and "Traceback" not in err, err
    report = tmp_path / "old.jsonl"
    report.write_text("keep\n")
    code, _, err = run_scan(str(inputs["astronaut"]), "--weights", str(tmp_path), "--output", str(report))
    assert code == 1 and report.read_text() == "keep\n"  # a failed start loses no earlier report


def test_missing_path_is_named(tmp_path):
    recs = list(scan.scan(_CropStub(), [tmp_path / "typo_dir", tmp_path / "gone.jpg"]))
    assert [r["error"] for r in recs] == [f"{tmp_path / p}: no such file or folder"
                                          for p in ("typo_dir", "gone.jpg")]


class _CropStub:
    """A detector whose model fails on one particular crop (all-white), as a broken file might."""

    threshold, tta = 0.5, False

    def analyze_crops(self, images, reframe=True):
        from jrc.detector import FaceResult

        if any(im.min() == 255 for im in images):
            raise RuntimeError("non-finite score")
        return [FaceResult(None, None, float(im.mean()) / 255, "real", im, reframed=False) for im in images]


def test_crops_batch_failure_fails_only_the_culprit(tmp_path):
    paths = []
    for name, value in [("a", 40), ("bad", 255), ("c", 200)]:
        paths.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(paths[-1]), np.full((32, 32, 3), value, np.uint8))
    recs = list(scan.scan(_CropStub(), paths, crops=True))
    assert [r["status"] for r in recs] == ["ok", "error", "ok"]
    assert recs[0]["score"] == pytest.approx(40 / 255, abs=1e-6)
    assert str(paths[1]) in recs[1]["error"] and "non-finite" in recs[1]["error"]
    assert recs[1]["score"] is None


def test_collect_paths_recurses_known_types(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.mp4", "a/b/z.txt"):
        (tmp_path / name).write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in scan.collect_paths([str(tmp_path)], None).paths]
    assert got == ["a/b/y.mp4", "a/x.jpg"]


def test_crop_batches_bound_count_and_pixels(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "CROP_BATCH", 3)
    monkeypatch.setattr(scan, "CROP_BATCH_PIXELS", 300 * 300)
    paths = []
    for i, side in enumerate([40, 40, 40, 40, 270, 180, 600]):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), np.zeros((side, side, 3), np.uint8))
    paths.insert(2, tmp_path / "gone.png")
    sizes = [[item.shape[0] if isinstance(item, np.ndarray) else "err" for _, item in b]
             for b in scan._crop_batches(paths)]
    # 3 files at most; 270^2 + 180^2 > 300^2 splits; a 600-px image alone may exceed the budget
    assert sizes == [[40, 40, "err"], [40, 40, 270], [180], [600]]


def test_input_warnings_name_small_faces_and_heavy_jpeg(tmp_path, astronaut):
    from jrc.detector import FaceResult

    def face(box):
        return FaceResult(box, 0.9, 0.5, "real", np.zeros((4, 4, 3), np.uint8))

    png = tmp_path / "a.png"
    cv2.imwrite(str(png), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    small = report.SMALL_FACE_PX - 1
    side = report.SMALL_FACE_PX
    warnings = report.input_warnings(png, [face((10, 10, 10 + side, 10 + side)),
                                           face(None), face((0, 0, small, small / 2))])
    assert len(warnings) == 1 and warnings[0].startswith(f"face #3 is small ({small} px across")
    assert report.input_warnings(png, [face(None)], crop_side=small)[0].startswith("face #1 is small")
    assert report.input_warnings(png, [face(None)], crop_side=report.SMALL_FACE_PX) == []
    heavy = tmp_path / "a.jpg"
    cv2.imwrite(str(heavy), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 50])
    (warning,) = report.input_warnings(heavy, [face((0, 0, 300, 300))])
    assert "quality ~50" in warning
    assert report.input_warnings(heavy, []) == []  # nothing scored: nothing to caution about
