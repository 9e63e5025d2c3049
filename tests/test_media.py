import numpy as np
import pytest

from skyseal.errors import MediaError
from skyseal.media import atomic_output, encode_mp4, read_media


def test_encode_and_decode_h264(tmp_path):
    frames = np.zeros((10, 64, 96, 3), np.uint8)
    frames[:, :, :48, 0] = 200
    encode_mp4(frames, tmp_path / "a.mp4", fps=10)
    clip = read_media(tmp_path / "a.mp4")
    assert clip.frames.shape == (10, 64, 96, 3) and clip.fps == 10
    assert abs(int(clip.frames[5, 32, 10, 0]) - 200) < 8
    import av

    with av.open(str(tmp_path / "a.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"


def test_odd_sizes_are_refused(tmp_path):
    with pytest.raises(MediaError, match="even"):
        encode_mp4(np.zeros((2, 33, 32, 3), np.uint8), tmp_path / "x.mp4")


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "video.mp4"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half a video")
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_old_file_until_new_one_is_complete(tmp_path):
    target = tmp_path / "video.mp4"
    target.write_bytes(b"old complete")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"new partial")
            raise RuntimeError
    assert target.read_bytes() == b"old complete"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new complete")
    assert target.read_bytes() == b"new complete"


def test_image_reads_as_one_frame(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(tmp_path / "a.png")
    clip = read_media(tmp_path / "a.png")
    assert clip.frames.shape == (1, 40, 60, 3)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"hello, I am text\n" * 20, "not a readable")])
def test_bad_files_raise_media_error(tmp_path, content, match):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(MediaError, match=match):
        read_media(p)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        read_media(tmp_path / "nope.mp4")
