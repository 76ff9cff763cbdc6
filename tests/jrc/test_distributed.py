"""The Ray scan (jrc/distributed.py): same records as the local scan, resume, crashed workers.

One local Ray instance (2 CPUs, no dashboard, loopback only) serves the whole module."""

import json
import os
import sys
from pathlib import Path

import cv2
import pytest

import jrc
from jrc import cli

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install ".[distributed]"')
distributed = pytest.importorskip("jrc.distributed")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shipped_weights")]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # the crashing worker below is defined here; send it by value (workers cannot import tests/)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut, no_face_image, astronaut_video, bad_files):
    d = tmp_path_factory.mktemp("ray_in")
    face = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    for i, (y, x, s) in enumerate([(40, 150, 150), (20, 120, 220), (60, 170, 120)]):
        cv2.imwrite(str(d / f"crop{i}.png"), cv2.resize(face[y:y + s + 60, x:x + s], (224, 224)))
    cv2.imwrite(str(d / "photo.jpg"), face)
    cv2.imwrite(str(d / "coffee.png"), cv2.cvtColor(no_face_image, cv2.COLOR_RGB2BGR))
    os.symlink(astronaut_video, d / "clip.mp4")
    for key in ("empty", "truncated"):
        os.symlink(bad_files[key], d / bad_files[key].name)
    os.symlink("nowhere.jpg", d / "broken.jpg")
    return d


def scan_to(out: Path, *args: str) -> dict[str, dict]:
    code = cli.main(["scan", *args, "--frames", "4", "--output", str(out)])
    assert code == 0
    recs = [json.loads(s) for s in out.read_text().splitlines()]
    by = {r["path"]: r for r in recs}
    assert len(by) == len(recs), "an input was written twice"
    return by


@pytest.fixture(scope="module")
def local_records(folder, tmp_path_factory):
    return scan_to(tmp_path_factory.mktemp("local") / "local.jsonl", str(folder))


def assert_same(got: dict[str, dict], want: dict[str, dict]) -> None:
    assert sorted(got) == sorted(want)
    for path, w in want.items():
        g = got[path]
        assert (g["status"], g["error"], g["label"]) == (w["status"], w["error"], w["label"]), path
        if w["score"] is not None:
            assert abs(g["score"] - w["score"]) <= 1e-5, path
        assert len(g["faces"]) == len(w["faces"]), path


def test_ray_scan_matches_local(local_ray, folder, local_records, tmp_path):
    statuses = {r["status"] for r in local_records.values()}
    assert statuses == {"ok", "no_face", "error"}
    got = scan_to(tmp_path / "ray.jsonl", str(folder), "--ray", "local", "--workers", "2")
    assert_same(got, local_records)


def test_resume_after_a_stop_writes_every_input_once(local_ray, folder, local_records, tmp_path):
    out = tmp_path / "out.jsonl"
    inputs = cli.collect_paths([str(folder)], None)
    written = []

    def stop_after_three(rec):
        written.append(rec)
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        if len(written) == 3:
            raise KeyboardInterrupt  # as Ctrl-C on the driver

    with pytest.raises(KeyboardInterrupt):
        distributed.scan_distributed(inputs.paths, distributed.ScanOptions(frames=4),
                                     distributed.Cluster("local", 2), stop_after_three,
                                     problems=inputs.problems)
    assert len(out.read_text().splitlines()) == 3
    got = scan_to(out, str(folder), "--ray", "local", "--workers", "2", "--resume")
    assert_same(got, local_records)


class CrashingWorker(distributed.ScanWorker):
    """Dies (as if killed) on its first batch, once per run, and on every batch holding 'poison'."""

    marker_dir = ""  # set by the test before the class is sent to the workers

    def scan_paths(self, paths):
        marker = Path(self.marker_dir) / "crashed-once"
        if any("poison" in p.name for p in paths):
            os._exit(1)
        if not marker.exists():
            marker.touch()
            os._exit(1)
        return super().scan_paths(paths)


def test_killed_workers_lose_nothing_and_a_poison_input_is_an_error(local_ray, folder, local_records,
                                                                     tmp_path):
    (tmp_path / "poison.jpg").write_bytes((folder / "photo.jpg").read_bytes())
    paths = [*cli.collect_paths([str(folder)], None).paths, tmp_path / "poison.jpg"]
    recs = []
    CrashingWorker.marker_dir = str(tmp_path)
    distributed.scan_distributed(paths, distributed.ScanOptions(frames=4),
                                 distributed.Cluster("local", 2), recs.append, batch_size=3,
                                 worker_cls=CrashingWorker)
    assert (tmp_path / "crashed-once").exists()
    by = {r["path"]: r for r in recs}
    assert len(by) == len(recs) == len(paths)
    poison = by.pop(str(tmp_path / "poison.jpg"))
    assert poison["status"] == "error" and "worker died while processing" in poison["error"]
    assert_same(by, local_records)


def test_ray_flag_without_ray_is_one_line(monkeypatch, folder, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "jrc.distributed", None)
    monkeypatch.delattr(jrc, "distributed", raising=False)  # imported by the tests above
    assert cli.main(["scan", str(folder), "--ray", "local"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'error: --ray needs Ray: pip install "jrc-deepfake[distributed]"'
