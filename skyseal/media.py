"""Video and image I/O with PyAV, and atomic file writes.

Every stage package works on plain uint8 arrays (T x H x W x 3, RGB); this
module is the one place that turns them into H.264 files and back, so stage
packages never depend on a codec library.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import MediaError

# A frame larger than 8K UHD is refused before decoding: it is either an
# attack on memory or nothing this toolkit is meant to look at.
MAX_PIXELS = 7680 * 4320


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # uint8, T x H x W x 3, RGB
    fps: float

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps if self.fps else 0.0


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it over ``path`` only on success.

    A crash or exception leaves ``path`` untouched (absent or the old complete
    file) and removes the partial temp file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()



def encode_mp4(frames: np.ndarray, path: str | os.PathLike, *, fps: float = 8.0, crf: int = 18) -> None:
    """Encode RGB frames as an H.264 (yuv420p) MP4 at ``path`` (written in place).

    Callers that need atomicity wrap this in :func:`atomic_output`.
    """
    import av

    frames = _check_frames(frames)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise MediaError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise MediaError(f"expected uint8 frames of shape T x H x W x 3, got {frames.dtype} {frames.shape}")
    return frames


def read_media(path: str | os.PathLike, *, max_frames: int | None = None) -> Clip:
    """Decode a video or still image to RGB frames, with a clear MediaError on bad input."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not a media file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: empty file")
    import av

    frames: list[np.ndarray] = []
    try:
        with av.open(str(p), mode="r") as container:
            if not container.streams.video:
                raise MediaError(f"{p}: no video or image stream")
            stream = container.streams.video[0]
            if (stream.width or 0) * (stream.height or 0) > MAX_PIXELS:
                raise MediaError(f"{p}: frame size {stream.width}x{stream.height} exceeds the {MAX_PIXELS}-pixel limit")
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:  # PyAV raises subclasses of these
        if not frames:
            raise MediaError(f"{p}: not a readable video or image ({_first_line(exc)})") from None
        # A truncated file still yields the frames before the damage.
    if not frames:
        raise MediaError(f"{p}: no decodable frames")
    return Clip(frames=np.stack(frames), fps=fps or 1.0)


def sample_media(path: str | os.PathLike, *, max_frames: int = 64, runs: int = 4) -> tuple[Clip, np.ndarray]:
    """Up to ``max_frames`` frames spread over the whole file, and their timestamps in seconds.

    A short file is decoded whole.  A longer one is read as ``runs`` runs of
    consecutive frames at evenly spaced times, each reached by seeking to the
    keyframe before it, so the work follows the frames sampled, not the length
    of the file.  Errors are the same clear MediaErrors as :func:`read_media`.
    """
    p = Path(path)
    import av

    try:
        with av.open(str(p), mode="r") as container:
            stream = container.streams.video[0] if container.streams.video else None
            total = int(stream.frames or 0) if stream is not None else 0
            duration = float(stream.duration * stream.time_base) if stream is not None and stream.duration and stream.time_base else 0.0
            seekable = stream is not None and total > 2 * max_frames and duration > 0
            if seekable:
                frames, times = _sample_runs(container, stream, duration, max_frames, runs)
                if len(frames) >= max(1, max_frames // 2):
                    rate = stream.average_rate or stream.guessed_rate
                    return Clip(np.stack(frames), float(rate) if rate else 1.0), np.asarray(times)
    except (av.error.FFmpegError, ValueError, OSError, IndexError, MemoryError):
        pass  # read_media below gives the clear per-file error
    clip = read_media(p, max_frames=max_frames)
    return clip, np.arange(len(clip.frames)) / (clip.fps or 1.0)


# Seeking lands on the keyframe before the target, up to a GOP earlier (x264's default GOP is 250
# frames, ~10 s).  Closer targets are reached by decoding on without converting frames to RGB, so
# runs never decode the same stretch twice and the work stays bounded by runs x GOP + frames taken.
SEEK_GAP_S = 10.0


def _sample_runs(container, stream, duration: float, max_frames: int, runs: int) -> tuple[list, list]:
    if (stream.width or 0) * (stream.height or 0) > MAX_PIXELS:
        raise ValueError("frame too large")  # read_media reports it properly
    per_run = max(1, max_frames // runs)
    frames: list[np.ndarray] = []
    times: list[float] = []
    decoder = None
    position = -np.inf
    for k in range(runs):
        target = duration * k / runs
        if decoder is None or target - position > SEEK_GAP_S:
            container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            decoder = container.decode(stream)
        taken = 0
        for frame in decoder:
            t = float(frame.pts * stream.time_base) if frame.pts is not None else target
            position = t
            if t + 1e-6 < target or (times and t <= times[-1]):
                continue  # before the run's start, or already taken
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(t)
            taken += 1
            if taken >= per_run:
                break
    return frames, times


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
