"""The demo under load: concurrent gradio_client users on loopback, then an over-long video.

    python benchmarks/demo_load.py [--clients 8] [--images 200] [--videos 20]
                                   [--long-video-s 3600 | --no-long-video] [--weights DIR]

Starts ``python app.py`` as a child process on 127.0.0.1 (a free port), waits for it, then:

1. ``--clients`` threads, each with its own ``gradio_client.Client``, share a bounded queue of
   ``--images`` image requests (``/analyze_image``, the demo's own example images in turn) and
   ``--videos`` video requests (``/analyze_video``, its example clips, 8 frames each). Reported:
   requests, errors (goal 0), p50 / p95 latency per kind, and the app process's peak resident
   memory (its RSS, with its children, sampled every 0.2 s from /proc).
2. A 720p video of ``--long-video-s`` seconds (default one hour) is written here at 1 fps of
   mostly static frames (low bitrate, cv2 VP80 WebM), then sent to the demo, which must refuse it
   with its limit message; and ``python -m jrc scan`` runs on it (sampled frames only), timed.

Nothing leaves the machine (loopback only; analytics off; Hub offline). Every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OK = ("ok", "no_face")  # statuses of a served request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (MB), from /proc; 0 when gone."""
    total = 0
    pids = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class PeakRSS(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop = pid, every, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.stop.wait(self.every)


def start_app(port: int, weights: str | None, examples: Path, log: Path, timeout: float) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_SERVER_NAME": "127.0.0.1"}
    cmd = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
           "--examples-dir", str(examples)] + (["--weights", weights] if weights else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"error: app.py exited with {proc.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"error: app.py did not listen on port {port} within {timeout:.0f} s; see {log}")


def write_long_video(path: Path, seconds: int, fps: int = 1) -> Path:
    """A 1280x720 WebM of ``seconds`` s at ``fps``: a real photo (the astronaut) slowly drifting,
    so most frames barely change (low bitrate)."""
    import cv2
    from skimage import data

    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[104:616, 384:896] = data.astronaut()
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, (1280, 720))
    if not out.isOpened():
        raise SystemExit("error: OpenCV cannot write VP80 WebM here")
    for i in range(seconds * fps):
        shift = (i // 60) % 40  # moves a pixel a minute
        out.write(np.roll(bgr, shift, axis=1))
    out.release()
    return path


def percentiles(ts: list[float]) -> str:
    if not ts:
        return "- / -"
    return f"{np.percentile(ts, 50):.2f} / {np.percentile(ts, 95):.2f}"


def run_load(url: str, images: list[str], videos: list[str], n_images: int, n_videos: int,
             clients: int, frames: int) -> dict:
    from gradio_client import Client, handle_file

    jobs: queue.Queue = queue.Queue()
    todo = [("image", images[i % len(images)]) for i in range(n_images)]
    every = max(1, n_images // max(1, n_videos))
    for i in range(n_videos):  # the videos spread among the images
        todo.insert(min(len(todo), i * (every + 1)), ("video", videos[i % len(videos)]))
    for job in todo:
        jobs.put(job)
    lat: dict[str, list[float]] = {"image": [], "video": []}
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        client = Client(url, verbose=False)
        while True:
            try:
                kind, path = jobs.get_nowait()
            except queue.Empty:
                return
            t = time.perf_counter()
            try:
                if kind == "image":
                    out = client.predict(handle_file(path), api_name="/analyze_image")
                else:
                    out = client.predict(handle_file(path), frames, api_name="/analyze_video")
                ok = out[4] is not None and json.loads(Path(out[4]).read_text())["status"] in OK
                dt = time.perf_counter() - t
                with lock:
                    lat[kind].append(dt)
                    if not ok:
                        errors.append(f"{kind} {Path(path).name}: record not ok")
            except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
                with lock:
                    errors.append(f"{kind} {Path(path).name}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"lat": lat, "errors": errors, "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--frames", type=int, default=8, help="frames sampled per video request")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--long-video-s", type=int, default=3600, help="length of the over-long video (s)")
    ap.add_argument("--no-long-video", action="store_true", help="skip the over-long video")
    ap.add_argument("--start-timeout", type=float, default=600)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if min(args.clients, args.images + args.videos) < 1 or min(args.images, args.videos) < 0:
        raise SystemExit("error: --clients >= 1, --images and --videos >= 0, not both 0")
    sys.path.insert(0, str(ROOT))
    from demo.examples import image_examples, video_examples
    from jrc.sysinfo import machine_name

    work = Path(tempfile.mkdtemp(prefix="jrc-demo-load-"))
    examples = work / "examples"
    images, videos = image_examples(examples), video_examples(examples)
    port = free_port()
    t = time.perf_counter()
    proc = start_app(port, args.weights, examples, work / "app.log", args.start_timeout)
    start_s = time.perf_counter() - t
    peak = PeakRSS(proc.pid)
    peak.start()
    result: dict = {"machine": machine_name(), "clients": args.clients, "start_s": round(start_s, 1)}
    try:
        url = f"http://127.0.0.1:{port}/"
        load = run_load(url, images, videos, args.images, args.videos, args.clients, args.frames)
        result.update(errors=len(load["errors"]), error_lines=load["errors"][:20],
                      wall_s=round(load["wall_s"], 1),
                      image={"n": len(load["lat"]["image"]), "p50_p95_s": percentiles(load["lat"]["image"])},
                      video={"n": len(load["lat"]["video"]), "p50_p95_s": percentiles(load["lat"]["video"])})
        if not args.no_long_video:
            from gradio_client import Client, handle_file

            t = time.perf_counter()
            long = write_long_video(work / "long_720p.webm", args.long_video_s)
            result["long_video"] = {"seconds": args.long_video_s, "mb": round(long.stat().st_size / 1e6, 1),
                                    "write_s": round(time.perf_counter() - t, 1)}
            out = Client(url, verbose=False).predict(handle_file(str(long)), 8,
                                                     api_name="/analyze_video")
            rec = json.loads(Path(out[4]).read_text())
            err = (rec["error"] or "").lower()
            result["long_video"]["demo"] = {"status": rec["status"], "error": rec["error"],
                                            "refused": rec["status"] == "error"
                                            and ("limit" in err or "minutes" in err or "longer" in err)}
            t = time.perf_counter()
            scan = subprocess.run([sys.executable, "-m", "jrc", "scan", str(long), "--output",
                                   str(work / "long.jsonl")], cwd=ROOT, capture_output=True, text=True,
                                  timeout=3600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            scan_rec = [json.loads(s) for s in (work / "long.jsonl").read_text().splitlines() if s.strip()] \
                if (work / "long.jsonl").is_file() else []
            result["long_video"]["scan"] = {"rc": scan.returncode, "s": round(time.perf_counter() - t, 1),
                                            "status": scan_rec[0]["status"] if scan_rec else None,
                                            "score": scan_rec[0]["score"] if scan_rec else None}
    finally:
        peak.stop.set()
        peak.join(1)
        result["peak_rss_mb"] = round(peak.peak, 0)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"machine: {result['machine']}; {args.clients} clients; app start {result['start_s']} s\n")
    print("| requests | n | errors | p50 / p95 s |\n|---|---:|---:|---:|")
    print(f"| image (`/analyze_image`) | {result['image']['n']} | | {result['image']['p50_p95_s']} |")
    print(f"| video (`/analyze_video`, {args.frames} frames) | {result['video']['n']} | | "
          f"{result['video']['p50_p95_s']} |")
    print(f"| all | {result['image']['n'] + result['video']['n']} | {result['errors']} | "
          f"wall {result['wall_s']} s |")
    print(f"\npeak RSS of the app process: {result['peak_rss_mb']:.0f} MB")
    for line in result["error_lines"]:
        print("error:", line)
    if "long_video" in result:
        print("long video:", json.dumps(result["long_video"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
