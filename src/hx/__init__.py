"""hx: an open-source AIOps control plane."""

__version__ = "0.1.0"
