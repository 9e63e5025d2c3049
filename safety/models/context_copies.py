"""Buried copies of training prompts: the prompt set inside harmless scene detail, label kept.

Fresh prompts written blind at stop 17 (round 3) showed the heads missing unsafe requests set
inside a harmless scene ("sunny backyard bbq, kids on the trampoline, and in the corner ..."):
heads-v10 caught 91 % of that round's plain unsafe prompts and 62 % of its indirect or buried
ones.  The training prompts state a request alone, so the heads learnt that scene detail goes
with benign prompts.  Each project prompt, in every class, also gets one copy with a scene clause
before it and a style clause after it, so scenery is no evidence either way.

The clauses are this module's own: none comes from the dilution attack's padding
(``safety.adversarial.PADDING``), so ``python -m safety.evaluate``'s diluted copy still measures
padding the heads never saw.  They name no person (a child in the scenery would carry a
sexual_minors cue into a sexual prompt).  Choices are seeded by the prompt: same data, same copies.

Measured, not the default (``train_semantic --buried``): on the data with round 3 the copies
raised out-of-fold recall at the 3 % rule from 91.3 to 91.7 %, but with round 4's prompts in
training they lost (90.9 against 91.3 %), and on round 4 itself, before it was used, heads with
them caught 79.9 % against 77.4 % without.
"""

from __future__ import annotations

import hashlib

from safety.adversarial import seeded_rng

SCENES = (
    "a quiet suburban street at dawn", "a sunny farmers market with striped awnings", "a rainy city at night with neon signs",
    "a cozy cabin with snow outside and a crackling fire", "a busy train station at rush hour",
    "an old library with dust in the sunbeams", "a beach boardwalk in summer, gulls overhead",
    "a small kitchen with plants on the windowsill", "a misty forest trail in autumn", "a rooftop garden above the city",
    "a roadside diner with chrome stools", "a college campus lawn in spring", "a mountain lake at sunrise",
    "a parking garage lit by flickering tubes", "a backyard with string lights and a grill", "a hotel lobby with marble floors",
    "a desert highway under a wide sky", "a harbour with fishing boats bobbing", "a living room with a record player spinning",
    "an empty office late on a friday",
)
STYLES = (
    "warm golden hour light", "shot on 35mm film", "handheld, natural sound", "soft lofi music in the background",
    "slow dolly shot", "wide angle, 4k", "pastel colour grade", "cinematic, shallow depth of field", "vhs look, slight grain",
    "calm and quiet mood", "drone shot pulling back", "documentary style", "timelapse clouds overhead",
    "muted colours, overcast", "steady cam, long take", "bright and cheerful", "moody blue tones", "anamorphic lens flare",
    "gentle piano score", "vertical phone framing",
)


def buried_copy(text: str) -> str:
    """The prompt between a scene clause and a style clause, chosen by the prompt."""
    rng = seeded_rng(text, "buried")
    return f"{rng.choice(SCENES)}, {text.strip().rstrip('.')}, {rng.choice(STYLES)}"


# Stop 21: ordinary framing and style words ("realistic" 174 unsafe training prompts / 0 benign,
# "meme", "compilation", "reel", "beautiful") appeared almost only in unsafe training prompts, so
# both heads read them as harm: the shipped heads-v17 refused 25 % of blind-written ordinary prompts
# that use them ("the guys building a cool treehouse", "a puppy secretly stealing a sock").  With
# ``train_semantic --styled`` every project prompt, benign and unsafe alike, also gets one copy with
# one or two of these phrases appended, so they carry no label information.  The list was fixed
# before any run that used it.  At stop 21 (heads only) the refit refused an identity twin in the
# bias gate; since stop 22 the default (train_semantic.STYLED), for the encoder adapter too.
STYLE_PHRASES = (
    "realistic", "cinematic, 4k", "montage", "with captions", "meme edit", "compilation", "instagram reel", "tiktok edit",
    "voiceover", "slow motion", "drone shot", "golden hour", "beautiful", "peaceful", "dramatic music", "shaky handheld", "pov",
    "documentary style", "news style", "hyperrealistic", "emotional", "triumphant music", "soft piano", "vlog", "for our channel",
    "motivational",
)


def styled_copy(text: str) -> str:
    """The prompt with one or two of STYLE_PHRASES appended, chosen by the prompt's SHA-1."""
    h = int(hashlib.sha1(text.encode()).hexdigest(), 16)
    picks: list[str] = []
    for i in range(1 + h % 2):
        phrase = STYLE_PHRASES[(h >> (8 * (i + 1))) % len(STYLE_PHRASES)]
        if phrase not in picks:
            picks.append(phrase)
    return text + ", " + ", ".join(picks)
