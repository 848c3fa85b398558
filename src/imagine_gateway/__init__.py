"""Imagine Gateway: a self-hostable API platform for Grok Imagine image and video generation."""

__version__ = "0.1.0"

__all__ = ["__version__"]
