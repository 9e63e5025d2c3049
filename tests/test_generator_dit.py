"""The video DiT, its sampler, training loop and generator wrapper, on tiny configs."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from generator.dit import DiTConfig, VideoDiT
from generator.sampler import SamplerConfig, sample
from generator.text_encoder import TextStates
from generator.train import CaptionedPool, RunConfig, Trainer, TrainConfig, flow_matching_loss, lr_at

TINY = DiTConfig(frames=8, size=16, patch=(2, 4, 4), width=32, depth=2, heads=2, name="tiny")


def text_batch(b: int, seed: int = 0, length: int = 6) -> TextStates:
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(b, 8, 384, generator=g)
    mask = torch.zeros(b, 8, dtype=torch.bool)
    mask[:, :length] = True
    return TextStates(states * mask[..., None], mask)


class FakeEncoder:
    """Stands in for MiniLM in the training-loop tests: a fixed random vector per caption."""

    def encode(self, captions):
        rows = [torch.randn(8, 384, generator=torch.Generator().manual_seed(zlib.crc32(c.encode()))) for c in captions]
        mask = torch.ones(len(captions), 8, dtype=torch.bool)
        return TextStates(torch.stack(rows), mask)


def tiny_run(**train) -> RunConfig:
    return RunConfig(name="tiny", model=TINY, train=TrainConfig(batch_size=4, lr=2e-3, warmup=1, pool_size=16, log_every=1, **train))


def tiny_trainer(run: RunConfig) -> Trainer:
    pool = CaptionedPool(run.train.pool_size, seed=0, encoder=FakeEncoder())
    null = FakeEncoder().encode([""])
    return Trainer(run, null_text=(null.states[0], null.mask[0]), pool=pool)


def test_shapes_and_token_grid():
    model = VideoDiT(TINY)
    x = torch.randn(2, 3, 8, 16, 16)
    text = text_batch(2)
    v = model(x, torch.rand(2), text.states, text.mask)
    assert v.shape == x.shape
    assert TINY.grid == (4, 4, 4)


def test_adaln_zero_model_starts_at_zero_velocity():
    model = VideoDiT(TINY)
    text = text_batch(2)
    v = model(torch.randn(2, 3, 8, 16, 16), torch.rand(2), text.states, text.mask)
    assert torch.count_nonzero(v) == 0  # zero-initialised final layer: the identity-start DiT recipe


def test_sampling_is_reproducible_by_seed_and_seeds_differ():
    torch.manual_seed(0)
    model = VideoDiT(TINY)
    for p in model.final.parameters():  # give the zero-initialised head some output
        torch.nn.init.normal_(p, std=0.05)
    model.eval()
    text, null = text_batch(2), text_batch(1, seed=9, length=2)
    cfg = SamplerConfig(steps=3, guidance=3.0)
    a = sample(model, text, null, [1, 2], cfg)
    b = sample(model, text, null, [1, 2], cfg)
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])
    single = sample(model, TextStates(text.states[:1], text.mask[:1]), null, [1], cfg)
    assert torch.allclose(single[0], a[0], atol=1e-4)  # a clip does not depend on its batch-mates


def test_classifier_free_guidance_changes_the_result_and_one_means_unguided():
    torch.manual_seed(0)
    model = VideoDiT(TINY)
    for p in model.final.parameters():
        torch.nn.init.normal_(p, std=0.05)
    for block in model.blocks:  # open the cross-attention gates so the caption matters
        torch.nn.init.normal_(block.ada[1].bias, std=0.5)
    model.eval()
    text, null = text_batch(1), text_batch(1, seed=9, length=2)
    plain = sample(model, text, null, [5], SamplerConfig(steps=3, guidance=1.0))
    guided = sample(model, text, null, [5], SamplerConfig(steps=3, guidance=4.0))
    assert not torch.allclose(plain, guided, atol=1e-4)
    uncond = sample(model, null, null, [5], SamplerConfig(steps=3, guidance=4.0))
    uncond_plain = sample(model, null, null, [5], SamplerConfig(steps=3, guidance=1.0))
    assert torch.allclose(uncond, uncond_plain, atol=1e-4)  # guidance toward the null caption is a no-op


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = VideoDiT(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    trainer = tiny_trainer(tiny_run())
    x0, states, mask = trainer.pool.batch(np.random.default_rng(0), 4, TINY.frames, TINY.size)

    def loss_now() -> float:
        with torch.no_grad():
            return float(flow_matching_loss(model, x0, states, mask, torch.Generator().manual_seed(123)))

    before = loss_now()
    for i in range(30):
        loss = flow_matching_loss(model, x0, states, mask, torch.Generator().manual_seed(i))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_now() < 0.7 * before


def test_learning_rate_warms_up_holds_then_anneals():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup=10, decay_from=600, lr_final_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == lr_at(300, cfg) == lr_at(600, cfg) == pytest.approx(1e-3)
    assert lr_at(800, cfg) == pytest.approx(0.55e-3)
    assert lr_at(1000, cfg) == pytest.approx(1e-4)
    assert lr_at(800, TrainConfig(steps=1000, lr=1e-3, warmup=10)) == pytest.approx(1e-3)  # no decay_from: constant


def test_learning_rate_warm_restarts_between_anneal_windows():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup=10, anneals=[(200, 400), (600, 1000)], lr_final_ratio=0.1)
    assert lr_at(100, cfg) == pytest.approx(1e-3)
    assert lr_at(300, cfg) == pytest.approx(0.55e-3)
    assert lr_at(400, cfg) == pytest.approx(1e-4)
    assert lr_at(401, cfg) == lr_at(600, cfg) == pytest.approx(1e-3)  # the restart
    assert lr_at(800, cfg) == pytest.approx(0.55e-3)
    assert lr_at(1000, cfg) == pytest.approx(1e-4)


def test_checkpoint_resume_replays_the_same_run(tmp_path):
    straight = tiny_trainer(tiny_run())
    losses_straight = [straight.train_step() for _ in range(4)]

    first = tiny_trainer(tiny_run())
    losses = [first.train_step() for _ in range(2)]
    first.save(tmp_path / "tiny.pt")
    resumed = tiny_trainer(tiny_run())
    resumed.load(tmp_path / "tiny.pt")
    assert resumed.step == 2
    losses += [resumed.train_step() for _ in range(2)]

    assert losses == pytest.approx(losses_straight, rel=1e-5)
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_export_and_dit_generator_round_trip(tmp_path):
    from generator.dit_generator import DiTGenerator
    from generator.train import export_weights

    trainer = tiny_trainer(tiny_run())
    trainer.train_step()
    trainer.save(tmp_path / "tiny.pt")
    path = export_weights(tmp_path / "tiny.pt", tmp_path / "weights", command="test")
    assert (tmp_path / "weights" / "tiny.json").exists() and (tmp_path / "weights" / "tiny-loss.png").exists()

    gen = DiTGenerator(path, size=24, sampler=SamplerConfig(steps=2, guidance=2.0))
    assert gen.model_version == "skyseal-dit-tiny-1"
    video = gen("a red ball moving left at night", seed=3, num_frames=8)
    again = gen("a red ball moving left at night", seed=3, num_frames=8)
    assert video.frames.shape == (8, 24, 24, 3) and video.frames.dtype == np.uint8
    assert np.array_equal(video.frames, again.frames)
    assert video.fps == 8.0 and video.seed == 3
    assert gen("a red ball moving left at night", seed=3, num_frames=16).frames.shape[0] == 16


def test_run_config_files_parse():
    from pathlib import Path

    for path in Path("generator/configs").glob("*.yaml"):
        run = RunConfig.load(path)
        assert run.model.frames >= 16 and run.model.grid


def test_bundled_weights_load_and_stay_small():
    from pathlib import Path

    from generator.dit_generator import DEFAULT_WEIGHTS, load_weights

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no bundled weights exported yet")
    assert Path(DEFAULT_WEIGHTS).stat().st_size < 20 * 2**20
    model, step = load_weights(DEFAULT_WEIGHTS)
    assert step > 0 and model.cfg.frames >= 16
