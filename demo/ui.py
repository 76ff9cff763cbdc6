"""The Gradio Blocks UI: Image, Video and Webcam tabs over :mod:`demo.image`, :mod:`demo.video`
and :mod:`demo.live`; the words are :mod:`demo.text`'s.

API endpoints (``gradio_client``): ``/analyze_image`` (image file -> annotated image, verdict,
faces table, per-face panels, JSON report) and ``/analyze_video`` (video file, frames ->
annotated WebM, verdict, tracks table, timeline, JSON report). The webcam stream is browser-only.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
from gradio.data_classes import ImageData

from demo import examples, image, live, overlays, text, video
from demo.engine import Engine
from demo.live import LiveState

WEBCAM_TIME_LIMIT = 600  # seconds per webcam session (one stream at a time); then the next in the queue
WEBCAM_EVERY = 0.05  # seconds between frames the browser sends (it skips while one is pending)
MAX_UPLOAD = f"{video.MAX_VIDEO_MB}mb"

CSS = """
.jrc-verdict {display:inline-block; padding:6px 14px; border-radius:8px; font-size:1.35em;
  font-weight:700; color:#fff; background:#6b7280; margin-bottom:2px}
.jrc-fake {background:#dc2626} .jrc-real {background:#16a34a}
#jrc-live-status {min-height:3em}
"""


# The two behaviours below are set on the component instances, not by subclassing gr.Image:
# Gradio's component metaclass writes a ``.pyi`` stub next to the module of every subclass.

def pass_upload_path(component: gr.Image) -> gr.Image:
    """Make a filepath ``gr.Image`` hand the uploaded file's path over without opening it.

    Stock ``gr.Image`` opens uploads with PIL before the event function runs, so a corrupt or
    non-image file ends in Gradio's generic "Error". Here :func:`jrc.media.load_image` reads it
    strictly and the user gets a message that names the file and the problem.
    """
    stock = component.preprocess

    def preprocess(payload: ImageData | None) -> str | None:
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return stock(payload)

    component.preprocess = preprocess
    return component


def inline_jpeg(component: gr.Image, quality: int = 85) -> gr.Image:
    """Send an output ``gr.Image`` as an inline JPEG data URL (for the webcam stream).

    Stock ``gr.Image`` writes every frame to a WebP file in Gradio's cache: at 15 FPS that is
    ~9,000 files per 10-minute session, each through PIL's WebP encoder, which is far slower
    than OpenCV's JPEG encoder.
    """
    stock = component.postprocess

    def postprocess(value):
        if isinstance(value, np.ndarray):
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(value, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                url = "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
                return ImageData(url=url, orig_name="frame.jpg", mime_type="image/jpeg")
        return stock(value)

    component.postprocess = postprocess
    return component


def about(md: str) -> None:
    with gr.Accordion(text.ABOUT, open=False):
        gr.Markdown(md)


def build(engine: Engine, examples_dir: str | Path | None = None) -> gr.Blocks:
    """The app. Launch it with :func:`launch` (theme and CSS are launch arguments in Gradio 6).

    ``examples_dir``: where the example inputs are written (default: the system temp folder).
    """

    def run_image(path):
        return image.analyze_image(engine, path).as_files(engine)

    def run_video(path, frames, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
        def cb(k: int, n: int) -> None:
            progress(k / n, desc=f"frame {k}/{n}")

        frames = video.DEFAULT_FRAMES if frames in (None, "") else int(frames)  # API callers may omit it
        out = video.analyze_video_file(engine, path, frames, cb)
        clip, verdict, tracks, timeline, report = out.as_tuple()
        plot = gr.LinePlot(value=timeline, x_title=out.x_title, color_map=overlays.series_colors(timeline))
        return clip, verdict, tracks, plot, report

    def run_live(frame, overlay, state):
        return live.live_frame(engine, frame, overlay, state)

    with gr.Blocks(title=text.TITLE, analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(text.intro(engine))
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    with gr.Column(scale=2):
                        image_in = pass_upload_path(gr.Image(
                            label="Image (upload or paste)", type="filepath", sources=["upload", "clipboard"],
                            height=360, elem_id="jrc-image-in"))
                        image_btn = gr.Button("Analyze image", variant="primary")
                        ex = examples.image_examples(examples_dir)
                        if ex:
                            gr.Examples([[p] for p in ex], inputs=[image_in], label="Examples",
                                        example_labels=[examples.label(p) for p in ex])
                    with gr.Column(scale=3):
                        image_out = gr.Image(label="Faces (green: real, red: fake)", type="filepath",
                                             interactive=False, height=360)
                        image_verdict = gr.Markdown(elem_id="jrc-image-verdict")
                        about(text.about_image(engine))
                faces_df = gr.Dataframe(headers=image.FACE_COLUMNS, label="Faces",
                                        interactive=False, elem_id="jrc-faces")
                gr.Markdown(text.PANELS)
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
                        frames = gr.Slider(4, video.MAX_FRAMES, value=video.DEFAULT_FRAMES, step=1,
                                           label="Frames sampled evenly over the video")
                        video_btn = gr.Button("Analyze video", variant="primary")
                        gr.Markdown(text.video_limits(video.MAX_VIDEO_MB, video.MAX_VIDEO_SECONDS))
                        vex = examples.video_examples(examples_dir)
                        if vex:
                            gr.Examples([[p] for p in vex], inputs=[video_in], label="Examples",
                                        example_labels=[examples.label(p) for p in vex])
                    with gr.Column(scale=3):
                        video_out = gr.Video(label=video.clip_label(engine),
                                             interactive=False, height=300, autoplay=True, loop=True,
                                             elem_id="jrc-video-out")
                video_verdict = gr.Markdown(elem_id="jrc-video-verdict")
                about(text.about_video(engine))
                timeline = gr.LinePlot(x="x", y="P(fake)", color="series", y_lim=[0, 1],
                                       x_title="time (s)", y_title="P(fake)",
                                       title="P(fake) per sampled frame and track",
                                       color_map={"threshold": overlays.THRESHOLD_COLOR}, height=260,
                                       elem_id="jrc-timeline")
                tracks_df = gr.Dataframe(headers=video.TRACK_COLUMNS, label="Face tracks",
                                         interactive=False)
                video_report = gr.File(label="JSON report (same fields as `jrc scan`)")
                gr.on([video_in.change, video_btn.click], run_video, inputs=[video_in, frames],
                      outputs=[video_out, video_verdict, tracks_df, timeline, video_report],
                      api_name="analyze_video", concurrency_limit=1, concurrency_id="video")

            with gr.Tab("Webcam", id="webcam"):
                gr.Markdown(text.webcam_intro(WEBCAM_TIME_LIMIT))
                with gr.Row():
                    cam = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                                   webcam_options=gr.WebcamOptions(
                                       mirror=True, constraints={"video": {"width": 640, "height": 480}}),
                                   height=360)
                    live_out = inline_jpeg(gr.Image(label="Live analysis", interactive=False, height=360,
                                                elem_id="jrc-live"))
                overlay = gr.Radio(live.OVERLAYS, value=live.default_overlay(engine),
                                   label="Overlay inside the face box", info=text.OVERLAY_INFO)
                live_status = gr.Markdown(text.WAITING, elem_id="jrc-live-status")
                about(text.about_live(engine, live.LIVE_WINDOW))
                state = gr.State(LiveState())
                cam.stream(run_live, inputs=[cam, overlay, state], outputs=[live_out, live_status, state],
                           time_limit=WEBCAM_TIME_LIMIT, stream_every=WEBCAM_EVERY, concurrency_limit=1,
                           api_name="analyze_frame", api_visibility="undocumented",
                           show_progress="hidden")
        gr.Markdown(text.FOOTER)
    demo.queue(max_size=64, default_concurrency_limit=2)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, **kwargs):
    """Launch with the demo's theme and CSS, no analytics, no share link, no SSR server."""
    return demo.launch(server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False,
                       theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_UPLOAD, show_error=False,
                       footer_links=["api"], **kwargs)
