"""Export the JRC model to deployable formats and benchmark the runtimes.

* ``python -m export.onnx``: one ONNX file (dynamic batch, config in ``metadata_props``), checked
  and compared with torch on real face crops.
* ``python -m export.trt --fp16``: a TensorRT engine from that ONNX, with the same metadata.
* ``python -m export.bench``: every runtime and precision available here, timed; a markdown table.

The formats are listed in :data:`export.formats.FORMATS`. No model logic lives here: the graph
is :class:`jrc.model.ScoreHead`, and crops and normalisation come from :mod:`jrc`.
"""
