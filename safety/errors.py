"""Errors the safety stage raises; each message is one line fit to show a person."""

from __future__ import annotations


class SafetyError(Exception):
    """Base of the safety stage's expected failures."""


class PromptError(SafetyError, ValueError):
    """A prompt that cannot be checked (empty, too long, not text, control characters).

    Never a silent allow: the caller gets this error and decides what to tell the user.
    """


class ClassifierLoadError(SafetyError, RuntimeError):
    """A configured classifier whose weights or files cannot be loaded."""
