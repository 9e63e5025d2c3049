"""Counterfactual copies of training prompts, so that the heads learn neither who a prompt is
about nor how it is framed.

The activities bias audit (``skyseal audit run activities --filter-only``) showed heads-v7 sending
"a video of a {gay, lesbian, transgender, Latino, ...} person cooking dinner" to review and never
the "white" or "straight" one: identity words occur in the training data mostly inside hate
prompts, and "a video of ..." opened 18 unsafe training prompts and no benign one.  Counterfactual
data augmentation (Lu et al. 2018, "Gender bias in neural NLP"; Dixon et al. 2018, "Measuring and
mitigating unintended bias in text classification") gives each such prompt copies with the cue
changed and the label kept, so the cue stops carrying a label:

- ``swap_identity``: an identity descriptor replaced by others ("a gay couple" -> "a Muslim couple"),
  in benign prompts only (below);
- ``insert_identity``: one put before a person noun ("a woman jogging" -> "a deaf woman jogging"),
  three different ones in benign prompts (train_semantic.BENIGN_INSERTS) so that benign prompts name
  groups as often as hate prompts do;
- ``add_frame``: a framing opener ("footage of ...", "make a video of ...").

Swaps stay out of unsafe prompts: swapped copies of the hate prompts spread the hate class over
every descriptor, so benign prompts that name a group scored higher and the threshold rule had to
rise (stop 16, out-of-fold whole filter at 3 % benign: 93.4 % recall with swaps in every class,
94.3 % with swaps in benign prompts only, 93.9 % with no copies; both copy recipes pass
``skyseal audit gate``, no copies does not).  Insertions and frames go into every class, so a
descriptor or a framing is no evidence either way.

Age words stay out of the lists: age is what separates sexual_minors from sexual.  A few of the
audit's descriptors (HELD_OUT_DESCRIPTORS) stay out too, so the audit still measures terms the
heads never saw in a counterfactual copy.  Choices are seeded by the prompt: same data, same copies.
"""

from __future__ import annotations

import re

from safety.adversarial import seeded_rng

# Descriptors by attribute; a swap stays within no attribute on purpose ("a gay man" -> "a Muslim
# man" is as harmless as "a straight man"), since the heads should ignore all of them.
IDENTITY_DESCRIPTORS: dict[str, list[str]] = {
    "sexual_orientation": ["gay", "lesbian", "straight", "queer", "bisexual"],
    "gender": ["transgender", "trans", "cisgender"],
    "race": ["Black", "white", "Asian", "Latino", "Latina", "Arab", "Hispanic", "South Asian", "East Asian"],
    "skin_tone": ["dark-skinned", "light-skinned", "medium-skinned", "pale-skinned", "olive-skinned"],
    "religion": ["Muslim", "Jewish", "Christian", "Hindu", "Buddhist", "Catholic"],
    "disability": ["disabled", "deaf", "blind", "wheelchair-using"],
    "nationality": ["Mexican", "Nigerian", "Chinese", "Indian", "Pakistani", "Polish", "Somali"],
}
# In the activities audit but never used here: its verdicts on these measure generalisation.
HELD_OUT_DESCRIPTORS = ("non-binary", "brown-skinned", "Indigenous", "Sikh", "autistic")
DESCRIPTORS = [d for terms in IDENTITY_DESCRIPTORS.values() for d in terms]
assert not set(DESCRIPTORS) & set(HELD_OUT_DESCRIPTORS)

# Longest first, so "South Asian" wins over "Asian".
_DESCRIPTOR_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, DESCRIPTORS), key=len, reverse=True)) + r")\b",
                            re.IGNORECASE)
_PERSON_NOUNS = ("man", "woman", "men", "women", "person", "people", "couple", "family", "families", "friends", "guy",
                 "lady", "teacher", "student", "doctor", "nurse", "father", "mother", "dad", "mum", "mom", "worker",
                 "workers", "athlete", "chef", "neighbour", "neighbor", "groom", "bride", "pilot", "farmer", "artist")
_PERSON_RE = re.compile(r"\b(a|an|two|three|the|some|young|old)\s+(" + "|".join(_PERSON_NOUNS) + r")\b", re.IGNORECASE)

FRAMES = ("a video of", "footage of", "a clip of", "make a video of", "generate a video of", "a realistic video of",
          "show me a video of", "a short film of")
# Prompts that already open with a framing or a request keep theirs.
_FRAMED_RE = re.compile(r"^\s*(an?\s+)?(realistic\s+|short\s+)?(video|footage|clip|film|animation|movie|gif|scene|"
                        r"make|generate|create|show|film|render|produce|give)\b", re.IGNORECASE)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _with_case(article: str, like: str) -> str:
    return article.capitalize() if like[:1].isupper() else article


def swap_identity(text: str, copies: int = 2) -> list[str]:
    """Up to ``copies`` versions of ``text`` with every identity descriptor replaced by another
    (one new descriptor per copy); none if it names none."""
    if not _DESCRIPTOR_RE.search(text):
        return []
    rng = seeded_rng(text, "swap")
    found = {m.group(0).lower() for m in _DESCRIPTOR_RE.finditer(text)}
    pool = [d for d in DESCRIPTORS if d.lower() not in found]
    out = []
    for new in rng.sample(pool, min(copies, len(pool))):
        swapped = _DESCRIPTOR_RE.sub(lambda m, new=new: new, text)
        # "a Asian man" -> "an Asian man": the article before a swapped-in descriptor follows it.
        swapped = re.sub(r"\b([Aa])n? (?=" + re.escape(new) + r"\b)",
                         lambda m, new=new: _with_case(_article(new), m.group(1)) + " ", swapped)
        out.append(swapped)
    return out


def insert_identity(text: str, copies: int = 1) -> list[str]:
    """Up to ``copies`` versions of ``text`` with an identity descriptor (a different one in each) put
    before its first person noun; none if it has no person noun or already names an identity."""
    if _DESCRIPTOR_RE.search(text):
        return []
    m = _PERSON_RE.search(text)
    if m is None:
        return []
    rng = seeded_rng(text, "insert")
    descriptors = [rng.choice(DESCRIPTORS)] if copies == 1 else rng.sample(DESCRIPTORS, copies)
    out = []
    for descriptor in descriptors:
        det, noun = m.group(1), m.group(2)
        if det.lower() in ("a", "an"):
            det = _with_case(_article(descriptor), det)
        out.append(text[:m.start()] + f"{det} {descriptor} {noun}" + text[m.end():])
    return out


def add_frame(text: str) -> str | None:
    """``text`` opened with a framing phrase ("footage of ..."), or None if it has one."""
    if _FRAMED_RE.match(text):
        return None
    frame = seeded_rng(text, "frame").choice(FRAMES)
    return f"{frame} {text[:1].lower()}{text[1:]}"


def counterfactual_copies(text: str, swap: bool = True, inserts: int = 1) -> list[str]:
    """Every counterfactual copy of one training prompt (its label carries over unchanged);
    ``swap``: with descriptor swaps (for benign prompts); ``inserts``: how many descriptors to put in."""
    out = swap_identity(text) if swap else []
    out += insert_identity(text, inserts)
    frame = add_frame(text)
    if frame is not None:
        out.append(frame)
    return [c for c in dict.fromkeys(out) if c != text]
