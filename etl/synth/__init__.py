"""Synthetic monthly department feeds (with their defects) for the low-income assistance system."""

from etl.synth.generate import SCALE_HOUSEHOLDS, generate
from etl.synth.writer import FeedFile, SynthManifest

__all__ = ["SCALE_HOUSEHOLDS", "FeedFile", "SynthManifest", "generate"]
