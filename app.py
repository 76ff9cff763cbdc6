"""``python app.py``: the Gradio demo (also the Hugging Face Spaces entry point).

Weights: ``--weights DIR_OR_REPO``, else ``$JRC_WEIGHTS``, else ``./weights``. A Hub repo id is
read from the local Hub cache first and downloaded only when it is not there. ``--tta`` (or
``JRC_TTA=1``) flip-averages every face's score. onnxruntime's threads do not spin after a run
(``JRC_ORT_SPIN=0`` unless set: the demo's two sessions alternate). Analytics are off.
"""

from __future__ import annotations

import argparse
import os
import sys

# Before gradio is imported: no analytics, no version check, no telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from jrc.runtime import BACKENDS, env_flag, ort_spinning

    p = argparse.ArgumentParser(description="JRC deepfake detector: Gradio demo (image, video, webcam).")
    p.add_argument("--weights", metavar="DIR_OR_REPO", default=os.environ.get("JRC_WEIGHTS"),
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS, else ./weights)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine")
    try:
        tta = env_flag("JRC_TTA", False)
        ort_spinning()  # checked here so that a bad value stops the app with a usage error
    except ValueError as e:
        p.error(str(e))
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=tta,
                   help="score every face and its left-right mirror and average them (as jrc scan "
                        "--tta): ~2x the model time; measured to help the 224-px default "
                        "(default: $JRC_TTA, else off)")
    on_spaces = bool(os.environ.get("SPACE_ID"))  # set by Hugging Face Spaces
    host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_spaces else "127.0.0.1")
    p.add_argument("--host", default=host,
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 on Hugging Face Spaces)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Two onnxruntime sessions (decoder and score-only) alternate on webcam frames: threads that
    # spin after a run would take the cores from the other session (jrc.runtime.ort_spinning).
    os.environ.setdefault("JRC_ORT_SPIN", "0")
    from demo.handlers import Engine
    from jrc.runtime import BackendUnavailable
    from jrc.weights import WeightsError

    try:
        engine = Engine.load(args.weights, args.backend, tta=args.tta)
    except (WeightsError, BackendUnavailable) as e:
        print(f"error: cannot load the model: {e}\n"
              "Pass --weights DIR_OR_REPO (a folder with config.json + model.safetensors, or a Hub "
              "repo id) or set JRC_WEIGHTS.", file=sys.stderr)
        return 1
    from demo import ui

    ui.launch(ui.build(engine), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
