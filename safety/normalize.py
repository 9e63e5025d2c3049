"""Undo the usual obfuscations before any rule looks at a prompt.

Two views come out: ``words`` keeps word boundaries (so "shop ornaments" never
reads as "porn"), and the de-spaced view catches "p o r n" only where single
letters were spaced out on purpose.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import PromptError

# Format characters (zero-width space/joiners, BOM, bidi controls, soft hyphen)
# that render as nothing but split words for a naive matcher.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0]")

# Letters from other scripts that look like Latin ones (NFKC leaves these alone).
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ɡ": "g", "һ": "h",
        "ո": "n", "п": "n", "ս": "u", "ԛ": "q", "ԝ": "w",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "ω": "w", "μ": "u", "γ": "y", "ϲ": "c", "ϳ": "j", "ς": "s",
        # Latin look-alikes outside ASCII that NFKC keeps
        "ı": "i", "ɑ": "a", "ɩ": "i", "ӏ": "l", "ǀ": "l", "ɒ": "a", "ɛ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i",
        "ʟ": "l", "ɴ": "n", "ʀ": "r", "ʏ": "y", "ᴀ": "a", "ᴇ": "e", "ᴏ": "o", "ᴜ": "u", "ᴘ": "p", "ᴄ": "c", "ᴅ": "d", "ᴊ": "j",
        "ᴋ": "k", "ᴍ": "m", "ᴛ": "t", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ʙ": "b", "ꜰ": "f", "ꜱ": "s",
    }
)

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})


def _strip_marks(text: str) -> str:
    if text.isascii():  # nothing to strip; most prompts, and decomposing them costs a third of normalize()
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _deleet_token(token: str) -> str:
    # Only rewrite digits/symbols inside tokens that also hold letters, so
    # "24 hours" and "3 dogs" keep their numbers.
    # Sentence punctuation around a word is not leet ("test!" stays "test").
    if token.isalpha():  # most tokens: skip the regex
        return token
    m = re.fullmatch(r"([\"'(\[]*)(.*?)([.,!?;:\"')\]]*)", token)
    lead, core, trail = m.groups() if m else ("", token, "")
    if any(ch.isalpha() for ch in core) and any(not ch.isalpha() for ch in core):
        return lead + core.translate(_LEET) + trail
    return token


def normalize(text: str) -> str:
    """The canonical lower-case, single-spaced, Latin-letter form of a prompt."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = text.casefold().translate(_HOMOGLYPHS)
    text = _strip_marks(text)
    tokens = [_deleet_token(tok) for tok in text.split()]
    text = " ".join(tokens)
    # Squeeze characters repeated three or more times ("nuuuude" -> "nude"), but not a token that is one
    # letter repeated ("xxx", "zzz"): squeezed, it would become a lone letter that matches everywhere.
    text = re.sub(r"\b([a-z])\1+\b|([a-z])\2{2,}", lambda m: m.group(0) if m.group(1) else m.group(2), text)
    # Split on punctuation that is not inside a word (keeps "self-harm" but splits "gore.").
    text = re.sub(r"[^\w\s'-]+", " ", text)
    return " ".join(text.split())


_SPACED_RUN = re.compile(r"\b(?:[a-z][\s._-]){2,}[a-z]\b")


def join_spaced_letters(text: str) -> str:
    """Collapse runs of 3+ single letters separated by spaces or dots: "p o r n" -> "porn"."""
    return _SPACED_RUN.sub(lambda m: re.sub(r"[\s._-]", "", m.group(0)), text)


def spaced_runs(text: str) -> list[str]:
    """The joined letters of each spaced-out run; a term anywhere inside one was spelled out on purpose
    ("a n a k e d" -> "anaked" holds "naked", the article having joined the run)."""
    return [re.sub(r"[\s._-]", "", m.group(0)) for m in _SPACED_RUN.finditer(text)]


_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refuse_control_characters(prompt: str) -> None:
    if prompt.isascii():  # one regex pass instead of a category lookup per character
        bad = _ASCII_CONTROL.search(prompt)
        if bad:
            raise PromptError(f"prompt contains control character U+{ord(bad.group()):04X} at position {bad.start()}")
        return
    for i, ch in enumerate(prompt):
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\t\n\r":
            raise PromptError(f"prompt contains control character U+{ord(ch):04X} at position {i}")
        if cat == "Cs":
            raise PromptError(f"prompt contains an unpaired surrogate U+{ord(ch):04X} at position {i} (not valid Unicode)")


def validate_prompt(prompt: object, max_chars: int = 2000) -> str:
    """The prompt as text, or a PromptError that says in one line what is wrong with it.

    Bytes are accepted only as strict UTF-8.  Control characters other than tab and
    newline are refused rather than stripped: they have no place in a prompt and are a
    common way to split words for a matcher.
    """
    if isinstance(prompt, (bytes, bytearray, memoryview)):
        try:
            prompt = bytes(prompt).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptError(f"prompt is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    if not isinstance(prompt, str):
        raise PromptError(f"prompt must be a string, got {type(prompt).__name__}")
    _refuse_control_characters(prompt)
    if not _INVISIBLE.sub("", prompt).strip():
        raise PromptError("prompt is empty")
    if len(prompt) > max_chars:
        raise PromptError(f"prompt is {len(prompt)} characters long; the limit is {max_chars}")
    return prompt


@dataclass(frozen=True)
class NormalizedPrompt:
    """A prompt with the views the layers look at."""

    raw: str
    text: str  # normalize(raw)
    views: tuple[str, ...]  # text, and its de-spaced form when letters were spelled out
    runs: tuple[str, ...]  # the joined letters of each spelled-out run
    sentences: tuple[str, ...] = ()  # normalised sentences, when the prompt has more than one

    @classmethod
    def of(cls, raw: str) -> "NormalizedPrompt":
        text = normalize(raw)
        despaced = join_spaced_letters(text)
        views = (text, despaced) if despaced != text else (text,)
        # Sentence ends are lost in normalisation, so split the raw text first.
        raw_parts = _SENTENCE_END.split(unicodedata.normalize("NFKC", raw))
        parts = [join_spaced_letters(normalize(part)) for part in raw_parts] if len(raw_parts) > 1 else []
        parts = [part for part in parts if part]
        return cls(raw=raw, text=text, views=views, runs=tuple(spaced_runs(text)),
                   sentences=tuple(parts) if len(parts) > 1 else ())


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
