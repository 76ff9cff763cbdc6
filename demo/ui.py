"""The Gradio Blocks UI: Image, Video and Webcam tabs over :mod:`demo.handlers`.

API endpoints (``gradio_client``): ``/analyze_image`` (image file -> annotated image, verdict,
faces table, per-face panels, JSON report) and ``/analyze_video`` (video file, frames ->
annotated WebM, verdict, tracks table, timeline, JSON report). The webcam stream is browser-only.
"""

from __future__ import annotations

import base64

import cv2
import gradio as gr
import numpy as np
from gradio.data_classes import ImageData

from demo import examples, handlers, overlays
from demo.handlers import Engine, LiveState

WEBCAM_TIME_LIMIT = 600  # seconds per webcam session (one stream at a time); then the next in the queue
WEBCAM_EVERY = 0.05  # seconds between frames the browser sends (it skips while one is pending)
MAX_UPLOAD = f"{handlers.MAX_VIDEO_MB}mb"
OVERLAYS = ["mask", "residual", "none"]

CSS = """
.jrc-verdict {display:inline-block; padding:6px 14px; border-radius:8px; font-size:1.35em;
  font-weight:700; color:#fff; background:#6b7280; margin-bottom:2px}
.jrc-fake {background:#dc2626} .jrc-real {background:#16a34a}
#jrc-live-status {min-height:3em}
"""


# The two behaviours below are set on the component instances, not by subclassing gr.Image:
# Gradio's component metaclass writes a ``.pyi`` stub next to the module of every subclass.

def pass_upload_path(image: gr.Image) -> gr.Image:
    """Make a filepath ``gr.Image`` hand the uploaded file's path over without opening it.

    Stock ``gr.Image`` opens uploads with PIL before the event function runs, so a corrupt or
    non-image file ends in Gradio's generic "Error". Here :func:`jrc.media.load_image` reads it
    strictly and the user gets a message that names the file and the problem.
    """
    stock = image.preprocess

    def preprocess(payload: ImageData | None) -> str | None:
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return stock(payload)

    image.preprocess = preprocess
    return image


def inline_jpeg(image: gr.Image, quality: int = 85) -> gr.Image:
    """Send an output ``gr.Image`` as an inline JPEG data URL (for the webcam stream).

    Stock ``gr.Image`` writes every frame to a WebP file in Gradio's cache: at 15 FPS that is
    ~9,000 files per 10-minute session, and PIL's WebP encoder took ~120 ms per 640x480 frame on
    the 2-core dev machine (busy at the time) against ~3 ms for OpenCV's JPEG.
    """
    stock = image.postprocess

    def postprocess(value):
        if isinstance(value, np.ndarray):
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(value, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                url = "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
                return ImageData(url=url, orig_name="frame.jpg", mime_type="image/jpeg")
        return stock(value)

    image.postprocess = postprocess
    return image


def model_line(engine: Engine) -> str:
    c = engine.detector.config
    return (f"Model: `{c.encoder}` at {c.input_size} px · backend `{engine.detector.runner.name}` · "
            f"threshold {engine.threshold:.3f} · mask head: {'yes' if engine.has_mask else 'no'}"
            + (" · flip averaging (`--tta`) on" if engine.tta else ""))


def build(engine: Engine) -> gr.Blocks:
    """The app. Launch it with :func:`launch` (theme and CSS are launch arguments in Gradio 6)."""

    def run_image(path):
        return handlers.analyze_image(engine, path).as_files(engine)

    def run_video(path, frames, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
        def cb(k: int, n: int) -> None:
            progress(k / n, desc=f"frame {k}/{n}")

        frames = handlers.DEFAULT_FRAMES if frames in (None, "") else int(frames)  # API callers may omit it
        out = handlers.analyze_video_file(engine, path, frames, cb)
        video, verdict, tracks, timeline, report = out.as_tuple()
        plot = gr.LinePlot(value=timeline, x_title=out.x_title, color_map=overlays.series_colors(timeline))
        return video, verdict, tracks, plot, report

    def run_live(frame, overlay, state):
        return handlers.live_frame(engine, frame, overlay, state)

    with gr.Blocks(title="JRC deepfake detector", analytics_enabled=False,
                   delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# JRC deepfake detector\n"
                    "Joint reconstruction and classification: one encoder feeds a classifier "
                    "(P(fake) per face), an autoencoder that rebuilds the face (it shapes what the "
                    "encoder learns) and, in the default model, a forgery-mask head that marks "
                    "blended regions. " + model_line(engine))
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    with gr.Column(scale=2):
                        image_in = pass_upload_path(gr.Image(
                            label="Image (upload or paste)", type="filepath", sources=["upload", "clipboard"],
                            height=360, elem_id="jrc-image-in"))
                        image_btn = gr.Button("Analyze image", variant="primary")
                        ex = examples.image_examples()
                        if ex:
                            gr.Examples([[p] for p in ex], inputs=[image_in], label="Examples",
                                        example_labels=[examples.label(p) for p in ex])
                    with gr.Column(scale=3):
                        image_out = gr.Image(label="Faces (green: real, red: fake)", type="filepath",
                                             interactive=False, height=360)
                        image_verdict = gr.Markdown(elem_id="jrc-image-verdict")
                faces_df = gr.Dataframe(headers=handlers.FACE_COLUMNS, label="Faces",
                                        interactive=False, elem_id="jrc-faces")
                gr.Markdown("**Per face**: crop (what the model saw) | reconstruction | residual | "
                            "forgery mask")
                panels = gr.Image(label="Per face", show_label=False, type="filepath", interactive=False,
                                  elem_id="jrc-panels")
                image_report = gr.File(label="JSON report (same fields as `jrc scan`)",
                                       elem_id="jrc-image-report")
                gr.on([image_in.change, image_btn.click], run_image, inputs=[image_in],
                      outputs=[image_out, image_verdict, faces_df, panels, image_report],
                      api_name="analyze_image", concurrency_limit=2, concurrency_id="image")

            with gr.Tab("Video", id="video"):
                with gr.Row():
                    with gr.Column(scale=2):
                        video_in = gr.Video(label="Video (mp4, webm, mov, avi)", sources=["upload"],
                                            height=300, elem_id="jrc-video-in")
                        frames = gr.Slider(4, handlers.MAX_FRAMES, value=handlers.DEFAULT_FRAMES, step=1,
                                           label="Frames sampled evenly over the video")
                        video_btn = gr.Button("Analyze video", variant="primary")
                        gr.Markdown(f"Limits: {handlers.MAX_VIDEO_MB} MB, {handlers.MAX_VIDEO_SECONDS // 60} "
                                    "minutes. For longer videos or batches use `python -m jrc scan`.")
                        vex = examples.video_examples()
                        if vex:
                            gr.Examples([[p] for p in vex], inputs=[video_in], label="Examples",
                                        example_labels=[examples.label(p) for p in vex])
                    with gr.Column(scale=3):
                        video_out = gr.Video(label="Annotated sampled frames (WebM)", interactive=False,
                                             height=300, autoplay=True, loop=True,
                                             elem_id="jrc-video-out")
                video_verdict = gr.Markdown(elem_id="jrc-video-verdict")
                timeline = gr.LinePlot(x="x", y="P(fake)", color="series", y_lim=[0, 1],
                                       x_title="time (s)", y_title="P(fake)",
                                       title="P(fake) per sampled frame and track",
                                       color_map={"threshold": overlays.THRESHOLD_COLOR}, height=260,
                                       elem_id="jrc-timeline")
                tracks_df = gr.Dataframe(headers=handlers.TRACK_COLUMNS, label="Face tracks",
                                         interactive=False)
                video_report = gr.File(label="JSON report (same fields as `jrc scan`)")
                gr.on([video_in.change, video_btn.click], run_video, inputs=[video_in, frames],
                      outputs=[video_out, video_verdict, tracks_df, timeline, video_report],
                      api_name="analyze_video", concurrency_limit=1, concurrency_id="video")

            with gr.Tab("Webcam", id="webcam"):
                gr.Markdown("Allow camera access and start recording. Each frame goes to the server, "
                            "which returns it with a box per face (green real, red fake, with "
                            "P(fake)) and the chosen overlay inside the face's crop square. Your "
                            "preview is mirrored, and so is the analysed picture, so the boxes sit on "
                            f"your face as you see it. One stream is served at a time, for up to "
                            f"{WEBCAM_TIME_LIMIT // 60} minutes; others wait in the queue.")
                with gr.Row():
                    cam = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                                   webcam_options=gr.WebcamOptions(
                                       mirror=True, constraints={"video": {"width": 640, "height": 480}}),
                                   height=360)
                    live = inline_jpeg(gr.Image(label="Live analysis", interactive=False, height=360,
                                                elem_id="jrc-live"))
                overlay = gr.Radio(OVERLAYS, value=handlers.default_overlay(engine),
                                   label="Overlay inside the face box",
                                   info="mask: predicted forgery mask (needs a model with a mask head); "
                                        "residual: where the reconstruction fails (not a map of "
                                        "manipulation)")
                live_status = gr.Markdown("Waiting for the webcam…", elem_id="jrc-live-status")
                state = gr.State(LiveState())
                cam.stream(run_live, inputs=[cam, overlay, state], outputs=[live, live_status, state],
                           time_limit=WEBCAM_TIME_LIMIT, stream_every=WEBCAM_EVERY, concurrency_limit=1,
                           api_name="analyze_frame", api_visibility="undocumented",
                           show_progress="hidden")
        gr.Markdown("Research prototype: scores are estimates from one model and can be wrong, "
                    "especially on manipulation methods and image sources unlike its training data.")
    demo.queue(max_size=64, default_concurrency_limit=2)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, **kwargs):
    """Launch with the demo's theme and CSS, no analytics, no share link, no SSR server."""
    return demo.launch(server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False,
                       theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_UPLOAD, show_error=False,
                       footer_links=["api"], **kwargs)
