"""Shared fixtures: temporary data/store folders and writers for test-made dataset files."""

from __future__ import annotations

import gzip
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


def write_idx(path: Path, array: np.ndarray, *, gzipped: bool | None = None) -> Path:
    """Write ``array`` (uint8, 1-D labels or 3-D images) in MNIST's IDX format."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gzipped if gzipped is not None else path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_mnist_like(
    folder: Path,
    n_train: int = 200,
    n_test: int = 50,
    size: int = 28,
    seed: int = 0,
    prefix: tuple[str, str] = ("train", "t10k"),
    gzipped: bool = True,
) -> Path:
    """A tiny synthetic MNIST-format dataset: class k is a bright square at a k-dependent place."""
    rng = np.random.default_rng(seed)
    for split, n in zip(prefix, (n_train, n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
        for i, c in enumerate(labels):
            r, col = divmod(int(c), 4)
            s = size // 5
            images[i, r * s + 2 : (r + 1) * s + 2, col * s + 2 : (col + 1) * s + 2] = 230
        ext = ".gz" if gzipped else ""
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", labels)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave screenshots and files a person should look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch on ``n`` threads inside the block, the previous count restored after it (so a test's choice never
    leaks into the tests that run after it, whatever their order)."""
    import torch  # here, not at the top: tests that never touch torch do not load it

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for a whole module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``),
    restored after it: a module that sizes torch's threads leaves them as it found them."""
    with torch_threads(1):
        yield
