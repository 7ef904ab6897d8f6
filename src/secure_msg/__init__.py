"""secure-msg: end-to-end encrypted therapy booklet."""

__version__ = "0.1.0"
