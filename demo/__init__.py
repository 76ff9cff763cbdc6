"""Gradio demo: Image, Video and Webcam tabs with reconstruction, residual and mask overlays.

``python app.py`` wires it up; :func:`demo.ui.build` makes the Blocks, :mod:`demo.handlers`
holds the event functions, :mod:`demo.overlays` draws. No model logic lives here.
"""
