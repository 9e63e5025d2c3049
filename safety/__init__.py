"""Content policy: prompt filtering and output classification, with reasons."""

from .decision import Decision, Finding
from .output_classifier import NudityDetector, OutputClassifier
from .policy import Policy, PolicyError, load_policy
from .prompt_filter import PromptFilter
from .normalize import normalize

__all__ = ["Decision", "Finding", "NudityDetector", "OutputClassifier", "Policy", "PolicyError", "PromptFilter", "load_policy", "normalize"]
