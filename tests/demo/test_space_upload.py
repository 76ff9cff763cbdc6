"""The Space upload documented in README (`hf upload ... --exclude ...`) sends the right files."""

import fnmatch
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def readme_excludes() -> list[str]:
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")  # join continued lines
    m = re.search(r"^hf upload .*$", text, re.M)
    assert m, "README has no `hf upload` command"
    args = shlex.split(m.group(0))
    return [args[i + 1] for i, a in enumerate(args) if a == "--exclude"]


def tree() -> list[str]:
    """What `hf upload .` walks: the checkout's files (tracked and untracked, as on disk)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    local = [str(p.relative_to(ROOT)) for d in (".venv", "runs", "cache", "screenshots")
             if (ROOT / d).is_dir() for p in list((ROOT / d).rglob("*"))[:200] if p.is_file()]
    onnx = [str(p.relative_to(ROOT)) for p in (ROOT / "weights").rglob("*.onnx")]
    return sorted(set(out.split()) | set(local) | set(onnx) | {"weights/model.onnx", "jrc/__pycache__/x.pyc"})


def test_readme_excludes_leave_the_space_files():
    from huggingface_hub.utils import filter_repo_objects

    paths = tree()
    sent = set(filter_repo_objects(paths, ignore_patterns=readme_excludes()))
    for needed in ("app.py", "requirements.txt", "packages.txt", "README.md", "weights/config.json",
                   "weights/model.safetensors", "weights/face/face_detection_short_range.tflite",
                   "weights/face/face_detection_full_range_sparse.tflite", "jrc/faces.py", "demo/ui.py",
                   "export/resolve.py"):
        assert needed in sent, needed
    for left_out in ("weights/model.onnx", "jrc/__pycache__/x.pyc"):
        assert left_out not in sent, left_out
    assert not any(p.startswith((".venv/", "runs/", "cache/", "screenshots/")) for p in sent)


def test_space_gitattributes_puts_every_large_sent_file_in_lfs():
    """A `git push` to the Space refuses plain blobs over 10 MB: each such file is LFS-tracked."""
    from huggingface_hub.utils import filter_repo_objects

    rules = [line.split()[0] for line in (ROOT / "demo" / "space.gitattributes").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "filter=lfs" in line]
    assert {"*.safetensors", "*.onnx"} <= set(rules)
    sent = filter_repo_objects(tree(), ignore_patterns=readme_excludes())
    large = [p for p in sent if (ROOT / p).is_file() and (ROOT / p).stat().st_size > 10 * MB]
    assert large, "expected the weights among the files sent"
    for p in large:
        assert any(fnmatch.fnmatch(Path(p).name, r) for r in rules), p
