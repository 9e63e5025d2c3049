"""Content policy: prompt filtering and output classification, with reasons."""

from .decision import Decision, Finding
from .errors import ClassifierLoadError, PromptError, SafetyError
from .logs import JsonFormatter, use_json_logs
from .lexicon import FuzzyLexiconLayer, LexiconLayer, NameLayer
from .normalize import NormalizedPrompt, normalize, validate_prompt
from .faces import FaceDetector
from .output_classifier import NudityDetector, OutputClassifier, build_output_classifier
from .policy import Policy, PolicyError, load_policy
from .prompt_filter import PromptFilter

__all__ = [
    "ClassifierLoadError", "Decision", "FaceDetector", "JsonFormatter", "build_output_classifier", "use_json_logs", "Finding", "FuzzyLexiconLayer", "LexiconLayer", "NameLayer", "NormalizedPrompt",
    "NudityDetector", "OutputClassifier", "Policy", "PolicyError", "PromptError", "PromptFilter", "SafetyError",
    "load_policy", "normalize", "validate_prompt",
]
