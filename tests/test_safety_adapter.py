"""The fine-tuned encoder: a LoRA adapter trained on prompts, merged into MiniLM, named by the heads."""

from __future__ import annotations

import numpy as np
import pytest

import safety.semantic as semantic
from safety.errors import ClassifierLoadError
from safety.semantic import DEFAULT_HEADS, EncoderAdapter, SemanticHeads, SemanticLayer, SentenceEmbedder, _default_model_path, _Pooled

PROMPTS = ["a chef cutting vegetables with a knife", "a man kicking a dog in a yard", "kids flying kites at the beach"]


def _random_adapter(scale: float = 2.0) -> EncoderAdapter:
    rng = np.random.default_rng(0)
    tensors = {}
    for name, (out, inp) in {"encoder.layer.0.attention.self.query": (384, 384),
                             "encoder.layer.0.output.dense": (384, 1536)}.items():
        tensors[name + ".lora_A"] = rng.normal(0, 0.05, (8, inp)).astype(np.float32)
        tensors[name + ".lora_B"] = rng.normal(0, 0.05, (out, 8)).astype(np.float32)
    return EncoderAdapter(tensors, scale, {"version": "test"})


def test_merged_weights_compute_what_the_low_rank_update_does():
    import torch

    from safety.models.train_encoder import _lora_modules

    adapter = _random_adapter()
    merged = _Pooled(_default_model_path(), 1, "mean+max", adapter)
    plain = _Pooled(_default_model_path(), 1, "mean+max")
    wrapped = _lora_modules(torch, plain.bert, rank=8)  # the training-time form: W x + scale * B A x
    with torch.no_grad():
        for name, module in wrapped.items():
            if name + ".lora_A" in adapter.tensors:
                module.A.copy_(torch.from_numpy(adapter.tensors[name + ".lora_A"]))
                module.B.copy_(torch.from_numpy(adapter.tensors[name + ".lora_B"]))
    ids = torch.tensor([[101, 1037, 2417, 3608, 102]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a, b = merged(ids, mask), plain(ids, mask)
        untouched = _Pooled(_default_model_path(), 1, "mean+max")(ids, mask)
    assert torch.allclose(a, b, atol=1e-5)
    assert (a - untouched).abs().max() > 1e-3  # the adapter really changed the encoder


def test_adapter_file_round_trip_and_bad_files(tmp_path):
    adapter = _random_adapter()
    path = adapter.save(tmp_path / "a.safetensors")
    again = EncoderAdapter.load(path)
    assert again.sha1 == adapter.sha1 and again.scale == 2.0 and again.metadata["version"] == "test"
    assert _random_adapter(scale=1.0).sha1 != adapter.sha1
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ClassifierLoadError, match="cannot load encoder adapter"):
        EncoderAdapter.load(tmp_path / "bad.safetensors")
    stray = EncoderAdapter({"encoder.layer.5.output.dense.lora_A": np.zeros((8, 1536), np.float32),
                            "encoder.layer.5.output.dense.lora_B": np.zeros((384, 8), np.float32)}, 1.0, {})
    with pytest.raises(ClassifierLoadError, match="does not have"):
        _Pooled(_default_model_path(), 3, "mean", stray)  # a three-layer encoder has no sixth layer


def test_training_moves_the_encoder_and_is_seeded():
    from safety.models.train_encoder import train_adapter

    texts = ["a man kicking a dog", "a gang beating a man", "a chef beating eggs", "kids kicking a ball"] * 2
    losses = []
    first = train_adapter(texts, [0, 0, 1, 1] * 2, 2, layers=1, pooling="mean", epochs=2,
                          progress=lambda epoch, loss: losses.append(loss))
    second = train_adapter(texts, [0, 0, 1, 1] * 2, 2, layers=1, pooling="mean", epochs=2)
    assert len(losses) == 2 and first.sha1 == second.sha1
    assert any(np.abs(v).max() > 0 for k, v in first.tensors.items() if k.endswith("lora_B"))  # B starts at zero
    assert first.metadata["layers"] == "1" and len(first.tensors) == 12  # six linear layers, A and B each


def test_onnx_export_merges_the_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("SKYSEAL_CACHE_DIR", str(tmp_path))
    adapter = _random_adapter()
    onnx = SentenceEmbedder(backend="onnx", layers=3, pooling="mean+max", adapter=adapter)
    assert onnx.backend == "onnx" and list((tmp_path / "safety").glob(f"*-l3-meanmax-a{adapter.sha1[:12]}.onnx"))
    torch_ = SentenceEmbedder(backend="torch", layers=3, pooling="mean+max", adapter=adapter)
    plain = SentenceEmbedder(backend="torch", layers=3, pooling="mean+max")
    a, b = onnx.encode(PROMPTS), torch_.encode(PROMPTS)
    assert abs(a - b).max() < 1e-4 and abs(a - plain.encode(PROMPTS)).max() > 1e-3
    assert "adapter" in onnx.name and onnx.adapter_sha1 == adapter.sha1 and plain.adapter_sha1 == ""


def test_heads_name_their_adapter_and_refuse_another(tmp_path, monkeypatch):
    from safety.policy import load_policy

    monkeypatch.setenv("SKYSEAL_CACHE_DIR", str(tmp_path))
    from safety.models.train_encoder import ADAPTER_FILE

    # The bundled heads (since heads-v17) read the bundled adapter, named by the SHA-1 of its numbers.
    assert SemanticHeads.load(DEFAULT_HEADS).adapter_sha1 == EncoderAdapter.load(ADAPTER_FILE).sha1
    adapter = _random_adapter()
    adapter.save(tmp_path / "encoder_lora.safetensors")
    rng = np.random.default_rng(1)
    heads = SemanticHeads(["violence", "safe"], rng.normal(size=(2, 768)), np.zeros(2), version="tiny", link="softmax",
                          encoder_layers=3, pooling="mean+max", encoder_adapter=tmp_path / "encoder_lora.safetensors",
                          adapter_sha1=adapter.sha1)
    heads.save(tmp_path / "heads.npz")
    again = SemanticHeads.load(tmp_path / "heads.npz")  # the adapter is found beside the heads file
    assert again.adapter_sha1 == adapter.sha1 and again.encoder_adapter == str(tmp_path / "encoder_lora.safetensors")
    layer = SemanticLayer(load_policy(), again)
    assert "+lora" in layer.source_tag and layer.embedder.adapter_sha1 == adapter.sha1
    plain = SentenceEmbedder(backend="torch", layers=3, pooling="mean+max")
    with pytest.raises(ValueError, match="encoder adapter"):
        SemanticLayer(load_policy(), again, embedder=plain)
    # The adapter file replaced after the heads were fitted: a new process refuses it, never reads it silently.
    _random_adapter(scale=1.0).save(tmp_path / "encoder_lora.safetensors")
    monkeypatch.setattr(semantic, "_embedders", {})
    with pytest.raises(ClassifierLoadError, match="were fitted on encoder adapter"):
        SemanticLayer(load_policy(), SemanticHeads.load(tmp_path / "heads.npz")).embedder


def test_fitting_on_token_ids_is_fitting_on_texts():
    """The GPU path (fit_adapter on ids made elsewhere) trains what train_adapter does from texts."""
    from safety.models.train_encoder import fit_adapter, train_adapter
    from safety.semantic import load_tokenizer

    texts = ["a man kicking a dog", "a chef beating eggs"] * 2
    ids = [e.ids for e in load_tokenizer(_default_model_path()).encode_batch(texts)]
    from_texts = train_adapter(texts, [0, 1] * 2, 2, layers=1, pooling="mean", epochs=1, device="cpu")
    from_ids = fit_adapter(ids, [0, 1] * 2, 2, layers=1, pooling="mean", epochs=1, device="cpu")
    assert from_ids.sha1 == from_texts.sha1 and from_ids.metadata["device"] == "cpu"


def test_fold_adapters_fitted_elsewhere_are_picked_up(tmp_path, monkeypatch):
    """`train_encoder --folds` on a GPU fills the cache `train_semantic --adapter --threshold` reads:
    a file at the fold's path is used as it is, and the recipe (epochs) is part of the name."""
    import safety.models.train_encoder as train_encoder
    from safety.models.train_semantic import fold_adapter, fold_adapter_path

    texts, labels = ["a man kicking a dog", "a chef beating eggs"], ["violence", "safe"]
    path = fold_adapter_path(texts, labels, 3, "mean+max", tmp_path, 4)
    assert path.parent == tmp_path and path.name.startswith("fold4-")
    assert fold_adapter_path(texts, list(np.array(labels)), 3, "mean+max", tmp_path, 4) == path  # numpy strings too
    assert fold_adapter_path(texts, labels, 3, "mean+max", tmp_path, 4, epochs=5) != path
    assert fold_adapter_path(texts, ["violence", "violence"], 3, "mean+max", tmp_path, 4) != path
    # Another pairing of the invariance term is another adapter; the benign pairing keeps the old names.
    paired = fold_adapter_path(texts, labels, 3, "mean+max", tmp_path, 4, invariance=8.0)
    assert fold_adapter_path(texts, labels, 3, "mean+max", tmp_path, 4, invariance=8.0, pairing="benign") == paired
    assert fold_adapter_path(texts, labels, 3, "mean+max", tmp_path, 4, invariance=8.0, pairing="non-hate") != paired
    _random_adapter().save(path)
    monkeypatch.setattr(train_encoder, "train_adapter", lambda *a, **k: pytest.fail("refitted a cached fold"))
    assert fold_adapter(texts, labels, 3, "mean+max", tmp_path, 4).sha1 == _random_adapter().sha1
    # A fold the cache lacks is taken from the folds bundled with the adapter.
    import safety.models.train_semantic as train_semantic

    bundled = tmp_path / "bundled"
    bundled.mkdir()
    path.rename(bundled / path.name)
    monkeypatch.setattr(train_semantic, "BUNDLED_FOLDS", bundled)
    assert fold_adapter(texts, labels, 3, "mean+max", tmp_path, 4).sha1 == _random_adapter().sha1


def test_the_bundled_fold_adapters_are_the_ones_the_threshold_rule_needs():
    """Each of the ten folds of the bundled training rows has its adapter in safety/models/folds,
    fitted with the bundled adapter's recipe, so `train_semantic --threshold` needs no GPU."""
    from safety.dataset import AILUMINATE_FILE
    from safety.models.train_encoder import ADAPTER_FILE
    from safety.models.train_semantic import (BUNDLED_FOLDS, ENCODER_LAYERS, FOLDS, POOLING, fold_adapter_path,
                                              fold_splits, training_examples)

    meta = EncoderAdapter.load(ADAPTER_FILE).metadata
    files = sorted(BUNDLED_FOLDS.glob("fold*.safetensors"))
    assert [f.name.split("-")[0] for f in files] == [f"fold{k}" for k in range(FOLDS)]
    folds = [EncoderAdapter.load(f).metadata for f in files]
    assert all({k: m.get(k) for k in ("epochs", "invariance", "pairing", "rank", "layers", "pooling")}
               == {k: meta.get(k) for k in ("epochs", "invariance", "pairing", "rank", "layers", "pooling")} for m in folds)
    # Each training row of the bundled adapter is left out of exactly one fold adapter.
    assert sum(int(meta["examples"]) - int(m["examples"]) for m in folds) == int(meta["examples"])
    if not AILUMINATE_FILE.is_file():
        return  # the rows' names below include the external train half, which is not beside this clone
    texts, labels, groups, _ = training_examples()
    assert int(meta["examples"]) == len(texts)
    for k, (train, _test) in enumerate(fold_splits(texts, labels, groups, FOLDS)):
        name = fold_adapter_path([texts[i] for i in train], [labels[i] for i in train], ENCODER_LAYERS, POOLING, BUNDLED_FOLDS, k,
                                 int(meta["epochs"]), float(meta["invariance"]), meta.get("pairing", "benign"))
        assert name.is_file(), name


def test_counterfactual_pairing_pulls_a_prompt_and_its_copy_together():
    """With the invariance term a benign prompt and its copy naming a group embed closer than
    without it, from the same start and the same batches."""
    import torch

    from safety.models.train_encoder import train_adapter
    from safety.models.train_semantic import counterfactual_pairs, pairs_within

    texts = ["a gang beating a man", "a chef beating eggs", "a gay chef beating eggs", "a man kicking a dog",
             "kids kicking a ball", "muslim kids kicking a ball"]
    labels = ["violence", "safe", "safe", "violence", "safe", "safe"]
    pairs = counterfactual_pairs(labels, ["project:0", "project:1", "project:1", "project:2", "project:3", "project:3"],
                                 [True, True, False, True, True, False])
    assert pairs == [(1, 2), (4, 5)] and pairs_within(pairs, [4, 5, 0]) == [(0, 1)]
    # "non-hate" pairs every project prompt but hate with its copies; an external row never.
    mixed = counterfactual_pairs(["violence", "violence", "hate", "hate", "safe", "drugs"],
                                 ["project:0", "project:0", "project:1", "project:1", "project:2", "ailuminate:0"],
                                 [True, False, True, False, True, False], pairing="non-hate")
    assert mixed == [(0, 1)]
    with pytest.raises(ValueError, match="pairing"):
        counterfactual_pairs(labels, ["project:0"] * 6, [True] * 6, pairing="everything")
    y = [0 if label == "violence" else 1 for label in labels]

    def gap(adapter):
        model = _Pooled(_default_model_path(), 1, "mean", adapter)
        from safety.semantic import load_tokenizer, pad_batch
        ids = [e.ids for e in load_tokenizer(_default_model_path()).encode_batch(texts)]
        with torch.no_grad():
            e = model(*(torch.from_numpy(a) for a in pad_batch(ids)))
        return float(sum(((e[i] - e[j]) ** 2).sum() for i, j in pairs))

    plain = train_adapter(texts, y, 2, layers=1, pooling="mean", epochs=30, device="cpu")
    paired = train_adapter(texts, y, 2, layers=1, pooling="mean", epochs=30, device="cpu", pairs=pairs, invariance=20.0)
    assert paired.metadata["invariance"] == "20.0" and paired.metadata["pairs"] == "2"
    assert gap(paired) < 0.5 * gap(plain)


def test_adapters_fitted_side_by_side_are_the_ones_fitted_one_after_another(tmp_path):
    """`train_encoder --workers N` fits its jobs in N processes; each job is the same seeded fit."""
    import multiprocessing

    from safety.models.train_encoder import _fit_and_save

    rows = ["a gang beating a man", "a chef beating eggs", "a man kicking a dog", "kids kicking a ball"]
    jobs = [(rows[:k], [0, 1, 0, 1][:k], [], tmp_path / f"w{k}.safetensors", 1, "cpu", 0.0, "benign", 0, 1) for k in (3, 4)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        side_by_side = list(pool.imap_unordered(_fit_and_save, jobs))
    assert all("wrote" in m for m in side_by_side)
    parallel = [EncoderAdapter.load(j[3]).sha1 for j in jobs]
    for k, job in zip((3, 4), jobs):
        _fit_and_save((*job[:3], tmp_path / f"s{k}.safetensors", *job[4:]))
    assert parallel == [EncoderAdapter.load(tmp_path / f"s{k}.safetensors").sha1 for k in (3, 4)]
    assert parallel[0] != parallel[1]


def test_rows_pooled_in_runs_of_similar_length_are_one_padded_batch():
    """Training pools a step's rows in runs padded to their own longest row: the same embeddings."""
    import torch

    from safety.models.train_encoder import pool_by_length
    from safety.semantic import load_tokenizer, pad_batch

    texts = ["a dog", "a chef cutting vegetables with a knife on a wooden board in a busy kitchen", "rain",
             "kids flying kites at the beach on a windy afternoon", "a man kicking a dog in a yard", "snow falling"]
    rows = [e.ids for e in load_tokenizer(_default_model_path()).encode_batch(texts)]
    model = _Pooled(_default_model_path(), 2, "mean+max")
    with torch.no_grad():
        whole = model(*(torch.from_numpy(a) for a in pad_batch(rows)))
        in_runs = pool_by_length(model, rows, "cpu", runs=3)
    assert in_runs.shape == whole.shape
    assert torch.allclose(in_runs, whole, atol=1e-5)


def test_a_fit_cut_short_resumes_from_its_checkpoint_to_the_uncut_adapter(tmp_path):
    """`train_encoder` saves each epoch; a rerun goes on from there and ends where an uncut fit ends.
    A checkpoint made from other rows is not resumed."""
    from safety.models.train_encoder import train_adapter

    texts = ["a gang beating a man", "a chef beating eggs", "a man kicking a dog", "kids kicking a ball",
             "a gay man kicking a ball", "a straight man kicking a ball"]
    y, pairs = [0, 1, 0, 1, 1, 1], [(3, 4), (3, 5)]
    fit = dict(layers=1, pooling="mean+max", epochs=3, device="cpu", pairs=pairs, invariance=4.0)
    uncut = train_adapter(texts, y, 2, **fit)

    class Cut(Exception):
        pass

    def cut_after_first(epoch, loss):
        if epoch == 0:
            raise Cut

    checkpoint = tmp_path / "a.partial.pt"
    with pytest.raises(Cut):
        train_adapter(texts, y, 2, checkpoint=checkpoint, progress=cut_after_first, **fit)
    assert checkpoint.is_file()
    seen = []
    resumed = train_adapter(texts, y, 2, checkpoint=checkpoint, progress=lambda e, loss: seen.append(e), **fit)
    assert seen == [1, 2] and resumed.sha1 == uncut.sha1

    other = train_adapter(texts[:4], y[:4], 2, checkpoint=checkpoint, progress=lambda e, loss: seen.append(e),
                          **{**fit, "pairs": []})
    assert seen == [1, 2, 0, 1, 2] and other.sha1 != uncut.sha1


def test_only_folds_fits_the_missing_fold_adapters_and_keeps_the_adapter(tmp_path, monkeypatch):
    # A run cut after the adapter was written must not spend another adapter's fit (22 minutes on
    # two cores) redoing it: --only-folds fits the fold adapters the cache lacks, and nothing else.
    import safety.models.train_encoder as te
    import safety.models.train_semantic as ts

    texts = [f"prompt number {i}" for i in range(20)]
    labels = ["safe", "violence"] * 10
    monkeypatch.setattr(ts, "training_examples", lambda *a, **k: (texts, labels, list(texts), [True] * 20))
    monkeypatch.setattr(ts, "FOLDS", 4)
    fitted = []
    monkeypatch.setattr(te, "_fit_and_save", lambda job: fitted.append(job[3]) or f"fitted {job[3].name}")
    cache, adapter = tmp_path / "folds", tmp_path / "encoder_lora.safetensors"

    te.main(["--only-folds", "--fold-cache", str(cache), "-o", str(adapter)])
    assert len(fitted) == 4 and adapter not in fitted and all(p.parent == cache and p.name.startswith(f"fold{k}-")
                                                              for k, p in enumerate(fitted))
    cache.mkdir()
    fitted[1].touch()  # fold 1 was written before the cut
    missing = [p for k, p in enumerate(fitted) if k != 1]
    fitted.clear()
    te.main(["--only-folds", "--fold-cache", str(cache), "-o", str(adapter)])
    assert fitted == missing
    fitted.clear()
    te.main(["--folds", "--fold-cache", str(cache), "-o", str(adapter)])
    assert fitted == [adapter] + missing

    jobs = []  # another depth is another adapter: its own fold names, and the fits are told the depth
    monkeypatch.setattr(te, "_fit_and_save", lambda job: jobs.append(job) or f"fitted {job[3].name}")
    other = ts.ENCODER_LAYERS - 1
    te.main(["--only-folds", "--layers", str(other), "--fold-cache", str(cache), "-o", str(adapter)])
    assert len(jobs) == 4 and {job[-1] for job in jobs} == {other} and not {job[3] for job in jobs} & set(missing + [fitted[0]])


def _tiny_minilm(path, **config):
    """MiniLM cut to one layer, with ``config`` changes, saved where _Pooled can load it."""
    from transformers import AutoConfig, AutoModel

    cfg = AutoConfig.from_pretrained(_default_model_path(), num_hidden_layers=1, **config)
    AutoModel.from_pretrained(_default_model_path(), config=cfg).save_pretrained(path)
    return path


def test_adapters_fitted_together_are_the_ones_fitted_alone(tmp_path):
    """`train_encoder --together` steps all its jobs at once; each job (its own rows, seed, pairs, weight of
    the pairing term and number of steps) ends as its own fit_adapter ends, to float rounding.  Dropout is
    off here: its masks are the one draw the jobs share when fitted together."""
    from safety.models.adapters_together import AdapterJob, fit_adapters_together
    from safety.models.train_encoder import fit_adapter
    from safety.semantic import load_tokenizer

    model = _tiny_minilm(tmp_path / "minilm", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    subjects = ["a man", "a chef", "two kids", "an old woman", "a gang of teenagers on a rainy street at night", "a dog"]
    actions = ["kicking a ball", "beating eggs", "beating a stranger", "cutting vegetables with a knife", "stabbing a man"]
    texts = [f"{s} {a}" for s in subjects for a in actions]  # 30 rows of several lengths
    ids = [e.ids for e in load_tokenizer(_default_model_path()).encode_batch(texts * 3)]
    labels = [int("beating a" in t or "stabbing" in t) + int("gang" in t) for t in texts * 3]
    jobs = [AdapterJob(ids[:40], labels[:40], [(0, 1), (5, 6), (10, 11)], seed=0),  # 2 steps an epoch
            AdapterJob(ids[:60], labels[:60], [(1, 2), (7, 8)], seed=3, invariance=2.0),  # 2 steps, the last one short
            AdapterJob(ids[:70], labels[:70], [], seed=0),  # 3 steps, no pairs among paired jobs
            AdapterJob(ids[:40], labels[:40], [(0, 1), (5, 6)], seed=0, invariance=0.0)]  # pairs, unpaired draws
    fit = dict(n_classes=3, layers=1, pooling="mean+max", epochs=2, device="cpu", model_path=model)
    losses = []
    together = fit_adapters_together(jobs, progress=lambda j, epoch, loss: losses.append((j, epoch)), runs=3, invariance=8.0,
                                     **fit)
    assert sorted(losses) == [(j, e) for j in range(4) for e in range(2)]
    for job, joint in zip(jobs, together):
        alone = fit_adapter(job.ids, job.labels, seed=job.seed, pairs=job.pairs,
                            invariance=8.0 if job.invariance is None else job.invariance, **fit)
        assert joint.metadata == alone.metadata
        for name, value in alone.tensors.items():
            np.testing.assert_allclose(joint.tensors[name], value, rtol=1e-3, atol=1e-6, err_msg=name)
    assert together[1].metadata["seed"] == "3" and "seed" not in together[0].metadata
    assert [a.metadata["invariance"] for a in together] == ["8.0", "2.0", "8.0", "0.0"]
    assert not np.allclose(together[0].tensors["encoder.layer.0.output.dense.lora_B"],
                           together[3].tensors["encoder.layer.0.output.dense.lora_B"])
    assert not np.allclose(together[0].tensors["encoder.layer.0.output.dense.lora_B"],
                           together[2].tensors["encoder.layer.0.output.dense.lora_B"])


def test_together_writes_the_adapter_and_fold_adapters_under_their_seeded_names(tmp_path, monkeypatch):
    """`train_encoder --folds --together --seed 2` writes each adapter where train_semantic looks for it:
    the fold adapters under names that carry the seed, beside (not over) seed 0's."""
    import safety.models.train_encoder as te
    import safety.models.train_semantic as ts

    texts = [f"a man kicking ball number {i}" for i in range(12)]
    labels = ["safe", "violence"] * 6
    monkeypatch.setattr(ts, "training_examples", lambda *a, **k: (texts, labels, list(texts), [True] * 12))
    monkeypatch.setattr(ts, "FOLDS", 2)
    cache, adapter = tmp_path / "folds", tmp_path / "encoder_lora.safetensors"
    te.main(["--folds", "--together", "--seed", "2", "--epochs", "1", "--device", "cpu", "--fold-cache", str(cache),
             "-o", str(adapter)])
    assert EncoderAdapter.load(adapter).metadata["seed"] == "2"
    written = sorted(p.name for p in cache.iterdir())
    expected = sorted(ts.fold_adapter_path([texts[i] for i in train], [labels[i] for i in train], ts.ENCODER_LAYERS,
                                           ts.POOLING, cache, k, 1, te.INVARIANCE, ts.PAIRING, 2).name
                      for k, (train, _test) in enumerate(ts.fold_splits(texts, labels, list(texts), 2)))
    unseeded = [ts.fold_adapter_path([texts[i] for i in train], [labels[i] for i in train], ts.ENCODER_LAYERS, ts.POOLING,
                                     cache, k, 1, te.INVARIANCE, ts.PAIRING).name
                for k, (train, _test) in enumerate(ts.fold_splits(texts, labels, list(texts), 2))]
    assert written == expected and not set(written) & set(unseeded)


def test_a_sweep_writes_every_variant_beside_the_adapter_and_its_folds_under_their_names(tmp_path, monkeypatch):
    """`train_encoder --folds --together --seed 0 1 --invariance 8 4`: one adapter per weight and seed, each beside
    the output under its own name (none over the bundled one), with its recipe in its metadata, and each one's fold
    adapters where `train_semantic --threshold --adapter <variant>` looks for them."""
    import safety.models.train_encoder as te
    import safety.models.train_semantic as ts

    texts = [f"a man kicking ball number {i}" for i in range(12)]
    labels = ["safe", "violence"] * 6
    monkeypatch.setattr(ts, "training_examples", lambda *a, **k: (texts, labels, list(texts), [True] * 12))
    monkeypatch.setattr(ts, "FOLDS", 2)
    cache, adapter = tmp_path / "folds", tmp_path / "encoder_lora.safetensors"
    te.main(["--folds", "--together", "--seed", "0", "1", "--invariance", "8", "4", "--epochs", "1", "--device", "cpu",
             "--fold-cache", str(cache), "-o", str(adapter)])
    assert not adapter.exists()
    expected_folds = []
    for invariance in (8.0, 4.0):
        for seed in (0, 1):
            meta = EncoderAdapter.load(te.variant_path(adapter, invariance, seed)).metadata
            assert (float(meta["invariance"]), int(meta.get("seed", 0))) == (invariance, seed)
            expected_folds += [ts.fold_adapter_path([texts[i] for i in train], [labels[i] for i in train], ts.ENCODER_LAYERS,
                                                    ts.POOLING, cache, k, 1, invariance, ts.PAIRING, seed).name
                               for k, (train, _test) in enumerate(ts.fold_splits(texts, labels, list(texts), 2))]
    assert te.variant_path(adapter, 4.0, 1).name == "encoder_lora-inv4-seed1.safetensors"
    assert sorted(p.name for p in cache.iterdir()) == sorted(expected_folds) and len(set(expected_folds)) == 8
