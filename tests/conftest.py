"""Shared fixtures: the real default model and a real index of the example reports, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Never reach a model hub from tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = PROJECT / "examples" / "reports"
# Labelled queries, initiatives and boilerplate passages on the example reports, written for the tests.
DATA = Path(__file__).resolve().parent / "data"
os.environ.setdefault("SIMKIT_MODELS_DIR", str(PROJECT / "models"))


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def embedder():
    from simkit.embedding.embedder import Embedder

    return Embedder.load()


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory, embedder) -> Path:
    """The example corpus indexed with the default model (built once, shared read-only)."""
    from simkit.pipeline.build import build_index

    target = tmp_path_factory.mktemp("demo") / "index"
    build_index([EXAMPLES], target)
    return target


@pytest.fixture(scope="session")
def demo_index(demo_index_dir):
    from simkit.api import open_index

    with open_index(demo_index_dir) as index:
        yield index


@pytest.fixture()
def index_copy(demo_index_dir, tmp_path) -> Path:
    """A private copy of the demo index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(demo_index_dir, target)
    return target
