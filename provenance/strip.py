"""Strip Content Credentials the way the wild does: a stream-copy remux.

Re-muxing (``ffmpeg -c copy``, upload pipelines, editors saving a copy)
keeps every coded frame but writes a fresh container, and the C2PA manifest
store, a top-level ``uuid`` box, is not carried over.  The stripped copy
still holds the invisible watermark, which is how it is re-linked to its
credentials through the ledger (C2PA soft-binding resolution).

This only copies packets; it never decodes, so the frames are bit-identical.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ProvenanceError


def strip_credentials(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write a remux of ``source`` to ``dest`` (same container format) with no C2PA manifest."""
    import av

    src, dst = Path(source), Path(dest)
    if not src.is_file():
        raise ProvenanceError(f"{src}: no such file")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=dst.suffix or ".tmp", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with av.open(str(src), mode="r") as fin:
            if not fin.streams:
                raise ProvenanceError(f"{src}: no streams to copy")
            fmt = _container_name(fin.format.name, dst)
            with av.open(str(tmp), mode="w", format=fmt) as fout:
                mapping = {s.index: fout.add_stream_from_template(s) for s in fin.streams if s.type in ("video", "audio")}
                for packet in fin.demux(*[fin.streams[i] for i in mapping]):
                    if packet.dts is None:  # the demuxer's end-of-stream flush packets
                        continue
                    packet.stream = mapping[packet.stream.index]
                    fout.mux(packet)
        os.replace(tmp, dst)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ProvenanceError(f"cannot remux {src.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _container_name(demuxer_names: str, dest: Path) -> str:
    # The demuxer reports a family ("mov,mp4,m4a,3gp,3g2,mj2"); the muxer needs one name.
    suffix = dest.suffix.lower().lstrip(".")
    names = demuxer_names.split(",")
    if suffix in ("mp4", "m4v"):
        return "mp4"
    if suffix == "mov":
        return "mov"
    if suffix in names:
        return suffix
    return "mp4" if "mp4" in names else names[0]


__all__ = ["strip_credentials"]
