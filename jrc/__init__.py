"""JRC: deepfake detection by joint reconstruction and classification."""

__version__ = "0.1.0"
