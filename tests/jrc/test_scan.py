"""Input gathering (no silent skips) and --resume, without the model."""

import json
import os

import pytest

from jrc import report, scan


def deny(monkeypatch, denied):
    """Make ``denied`` unreadable, as for a user without the permission (tests may run as root)."""
    access, scandir = os.access, os.scandir

    def fake_access(path, mode, *a, **k):
        return False if os.fspath(path) == os.fspath(denied) else access(path, mode, *a, **k)

    def fake_scandir(path="."):
        if os.fspath(path) == os.fspath(denied):
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "access", fake_access)
    monkeypatch.setattr(os, "scandir", fake_scandir)


def test_every_found_entry_gets_a_record_or_is_counted(tmp_path, monkeypatch):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for name in ("a.jpg", "sub/b.mp4", "notes.txt", ".hidden.jpg", "out.jsonl"):
        (d / name).write_bytes(b"x")
    os.symlink("missing.jpg", d / "broken.jpg")
    os.mkfifo(d / "pipe.jpg")
    os.symlink("..", d / "sub" / "loop")
    (d / "locked").mkdir()
    (d / "locked" / "c.jpg").write_bytes(b"x")
    deny(monkeypatch, d / "locked")
    got = scan.collect_paths([str(d)], None, output=str(d / "out.jsonl"))
    names = [p.relative_to(d).as_posix() for p in got.paths]
    assert names == ["a.jpg", "broken.jpg", "locked", "pipe.jpg", "sub/b.mp4", "sub/loop"]
    assert got.skipped == {"hidden": 1, "not media": 1, "report file": 1}
    assert "folder loop" in got.problems[d / "sub" / "loop"]
    assert got.problems[d / "locked"] == f"{d / 'locked'}: cannot list folder (Permission denied)"
    assert got.summary() == "; skipped 1 hidden, 1 not media, 1 report file"
    errors = {p.name: scan._input_error(p, "an image") for p in got.paths}
    assert "broken symbolic link" in errors["broken.jpg"] and "missing.jpg" in errors["broken.jpg"]
    assert "FIFO" in errors["pipe.jpg"]


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    f = tmp_path / "secret.jpg"
    f.write_bytes(b"x")
    deny(monkeypatch, f)
    assert scan._input_error(f, "an image") == f"{f}: permission denied"


def test_completed_paths_drops_a_cut_last_line(tmp_path):
    out = tmp_path / "out.jsonl"
    lines = [json.dumps({"path": f"f{i}.jpg", "status": "ok"}) + "\n" for i in range(3)]
    out.write_text("".join(lines) + '{"path": "f3.jp')
    assert report.completed_paths(out) == {"f0.jpg", "f1.jpg", "f2.jpg"}
    assert out.read_text() == "".join(lines)  # ready to append to
    assert report.completed_paths(tmp_path / "none.jsonl") == set()
    out.write_text("not json\n" + lines[0])
    with pytest.raises(ValueError, match=r"out.jsonl:1: not a jrc scan record"):
        report.completed_paths(out)


@pytest.mark.usefixtures("shipped_weights")
def test_scan_records_bad_entries_and_scores_the_rest(tmp_path, monkeypatch, astronaut, capsys):
    import cv2

    from jrc import cli

    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "astronaut.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    (d / "denied.jpg").write_bytes((d / "astronaut.jpg").read_bytes())
    os.symlink("gone.jpg", d / "link.jpg")
    deny(monkeypatch, d / "denied.jpg")
    out = tmp_path / "out.jsonl"
    assert cli.main(["scan", str(d), "--output", str(out)]) == 0
    recs = {os.path.basename(r["path"]): r for r in map(json.loads, out.read_text().splitlines())}
    assert recs["astronaut.jpg"]["status"] == "ok"
    assert recs["denied.jpg"]["error"] == f"{d / 'denied.jpg'}: permission denied"
    assert "broken symbolic link" in recs["link.jpg"]["error"]
    assert "scanned 2 error, 1 ok" in capsys.readouterr().err
