"""Synthetic monthly department feeds (with their defects) for the low-income assistance system."""

from synth.generate import SCALE_HOUSEHOLDS, generate
from synth.writer import FeedFile, SynthManifest

__all__ = ["SCALE_HOUSEHOLDS", "FeedFile", "SynthManifest", "generate"]
