import os
from pathlib import Path

import pytest

# Keep model libraries offline and quiet in tests, like on a machine with no hub access.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh Skyseal home (ledger, dev CA, review queue) for one test."""
    path = tmp_path / "skyseal-home"
    monkeypatch.setenv("SKYSEAL_HOME", str(path))
    monkeypatch.delenv("SKYSEAL_CONFIG", raising=False)
    return path


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("skyseal-session-home")


@pytest.fixture(scope="session")
def generated(session_home, tmp_path_factory):
    """One real generate run shared by the round-trip tests: (settings, result)."""
    from skyseal.config import Settings
    from skyseal.pipeline import Pipeline

    settings = Settings(home=session_home)
    out = tmp_path_factory.mktemp("out") / "clip.mp4"
    pipeline = Pipeline.from_settings(settings)
    try:
        result = pipeline.run("a large red triangle sliding to the left under a night sky", output=out, seed=11)
    finally:
        pipeline.close()
    return settings, result
