"""Gradio demo: Image, Video and Webcam tabs with reconstruction, residual and mask overlays.

``python app.py`` wires it up; :func:`demo.ui.build` makes the Blocks. :mod:`demo.engine` holds
the detector and its lock, :mod:`demo.image`, :mod:`demo.video` and :mod:`demo.live` the tabs'
event functions, :mod:`demo.text` the words, :mod:`demo.overlays` draws. No model logic lives here.
"""
