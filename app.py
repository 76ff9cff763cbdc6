"""``python app.py``: the Gradio demo (also the Hugging Face Spaces entry point).

Weights: ``--weights DIR_OR_REPO``, else ``$JRC_WEIGHTS``, else ``./weights``. A Hub repo id is
read from the local Hub cache first and downloaded only when it is not there. Before the model
loads, the artifact of the decoder graph that ``--backend`` needs (ONNX file, TensorRT engine) is
built where missing (:func:`export.resolve.prepare`); the score-only graph (webcam frames between
decoder passes, ``--tta`` mirrors) is built after the port is up, in the background, so a first
start on a Space exports one graph before it serves, not two. ``--tta`` flip-averages every
face's score. Analytics are off.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

# Before gradio is imported: no analytics, no version check, no telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}")
    return n


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from jrc.artifacts import BACKENDS

    p = argparse.ArgumentParser(description="JRC deepfake detector: Gradio demo (image, video, webcam).")
    p.add_argument("--weights", metavar="DIR_OR_REPO", default=os.environ.get("JRC_WEIGHTS"),
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS, else ./weights)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=False,
                   help="score every face and its left-right mirror and average them (as jrc scan "
                        "--tta): about twice the model time (default: off)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="onnxruntime threads per session (default: the physical cores)")
    p.add_argument("--spin", action=argparse.BooleanOptionalAction, default=False,
                   help="let onnxruntime's threads spin after a run (default: off, since the demo's "
                        "decoder and score-only sessions alternate on webcam frames)")
    p.add_argument("--examples-dir", metavar="DIR",
                   help="folder for the example inputs (default: one in the system temp folder)")
    on_spaces = bool(os.environ.get("SPACE_ID"))  # set by Hugging Face Spaces
    host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_spaces else "127.0.0.1")
    p.add_argument("--host", default=host,
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 on Hugging Face Spaces)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from demo import ui
    from demo.engine import Engine
    from export.resolve import prepare
    from jrc import weights as jrc_weights
    from jrc.runtime import BackendUnavailable

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        checkpoint = jrc_weights.load(args.weights)
        announce_first_export(checkpoint, args.backend)
        t = time.perf_counter()
        prepare(checkpoint, args.backend, with_decoder=True)  # the graph the demo needs first
        log.info("model ready in %.0f s", time.perf_counter() - t)
        engine = Engine.load(checkpoint, args.backend, tta=args.tta, threads=args.threads,
                             spinning=args.spin,
                             before_score_runner=lambda b: prepare(checkpoint, b, with_decoder=False))
    except (jrc_weights.WeightsError, BackendUnavailable) as e:
        print(f"error: cannot load the model: {e}\n"
              "Pass --weights DIR_OR_REPO (a folder with config.json + model.safetensors, or a Hub "
              "repo id) or set JRC_WEIGHTS.", file=sys.stderr)
        return 1
    demo = ui.build(engine, args.examples_dir)
    # the score-only runner (and its ONNX file) is built once the app serves, not before
    threading.Thread(target=lambda: engine.detector.score_runner, name="score-runner", daemon=True).start()
    ui.launch(demo, host=args.host, port=args.port)
    return 0


log = logging.getLogger("app")
# measured (issue 30): export + parity check of the decoder graph took 10 s on the 2-core build
# machine (AMD EPYC, busy); a shared Space CPU was seen at ~35 s a graph
FIRST_EXPORT_S = (10, 40)


def announce_first_export(checkpoint, backend: str) -> None:
    """Say how long a first start takes when the ONNX file must be made first."""
    if backend not in ("auto", "onnx"):
        return
    from jrc.artifacts import artifact_name, candidates, checkpoint_sha256

    name = artifact_name(True, False, ".onnx")
    if not any(p.is_file() for p in candidates(checkpoint.path, name, checkpoint_sha256(checkpoint))):
        log.warning("first start: exporting the model to ONNX and checking it against torch, once; "
                    "%d-%d s on 2 CPU cores (the longer on a shared machine such as a Space) before "
                    "the app listens", *FIRST_EXPORT_S)


if __name__ == "__main__":
    sys.exit(main())
