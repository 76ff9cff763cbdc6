"""Training: data, self-blended fakes, losses and the loop (``python -m train``)."""
