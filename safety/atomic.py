"""Write a file so that no reader ever sees half of it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a hidden file beside ``path``, then a rename over it; on failure the
    temporary file is removed and ``path`` keeps what it had."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
