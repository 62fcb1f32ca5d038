"""lit_nn: a PyTorch Lightning template for regression and classification, extended by plugins."""

from lit_nn.hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "hookspec"]
