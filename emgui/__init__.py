"""EM Gap Filler: fill blank labels in a table with a semi-supervised Gaussian mixture."""

__version__ = "0.1.0"
__all__ = ["__version__"]
