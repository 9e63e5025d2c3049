"""Skyseal: content safety and provenance for generated video.

The composition root: the only package that knows generator, safety,
provenance and audits, and wires them into one road.
"""

__version__ = "0.1.0"
