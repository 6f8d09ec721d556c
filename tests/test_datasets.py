"""The dataset registry: every loader, every bad input, discovery, download and the command line.

All data is made by the tests in temporary folders; downloads go to a local
``http.server`` on 127.0.0.1, never to the internet.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import models.datasets as ds
from models.datasets import DatasetError, discover, download, is_present, load, missing_message
from tests.conftest import write_idx, write_mnist_like

ROOT = Path(__file__).resolve().parents[1]


# -- writers for test-made dataset files ----------------------------------------
def write_svhn(data_dir: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """SVHN-format .mat files: X 32×32×3×N uint8, y N×1 in 1..10 (10 means the digit 0)."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder = data_dir / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    for fname, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(-1, 1)
        savemat(folder / fname, {"X": x, "y": y})
    return folder


def write_coil(data_dir: Path, objects: int = 3, views: int = 4, size: int = 16) -> Path:
    folder = data_dir / "coil-20"
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(1, objects + 1):
        for i in range(views):
            Image.fromarray(np.full((size, size), 20 * k + i, np.uint8)).save(folder / f"obj{k}__{i}.png")
    return folder


def write_cifar_batch(path: Path, n: int, seed: int, protocol: int = pickle.HIGHEST_PROTOCOL) -> dict:
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"test batch",
        b"labels": [int(v) for v in np.arange(n) % 10],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
    }
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return batch


def write_cifar(data_dir: Path, n: int = 10, nested: bool = True) -> Path:
    folder = data_dir / "cifar-10" / ("cifar-10-batches-py" if nested else "")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", n, seed=i, protocol=2 if i == 1 else 5)
    write_cifar_batch(folder / "test_batch", n, seed=9)
    names = [f"class-{c}".encode() for c in range(10)]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))
    return folder


def write_folder(
    data_dir: Path,
    name: str = "shapes",
    classes=("circle", "square", "star"),
    per_class: int = 6,
    size: int = 12,
    colour: bool = False,
) -> Path:
    folder = data_dir / name
    for c, cls in enumerate(classes):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size, size, 3) if colour else (size, size)
            Image.fromarray(np.full(shape, 40 * c + i, np.uint8)).save(folder / cls / f"{i:03d}.png")
    return folder


def write_npz(path: Path, n: int = 30, dim: int = 5, classes: int = 3, **extra) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"features": rng.normal(size=(n, dim)) * 10 + 3, "labels": np.arange(n) % classes}
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def write_csv(path: Path, n: int = 30, dim: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({f"f{i}": rng.normal(size=n) * 5 for i in range(dim)})
    df["label"] = np.array(["cat", "dog", "bird"])[np.arange(n) % 3]
    df["prediction"] = np.array(["cat", "dog", "bird"])[(np.arange(n) + 1) % 3]
    df["note"] = [f"sample {i}" for i in range(n)]
    df.to_csv(path, index=False)
    return df


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raises(match_all: tuple[str, ...], fn, *args, **kwargs) -> str:
    """Call ``fn`` expecting DatasetError; check every fragment is in the message; return it."""
    with pytest.raises(DatasetError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    for fragment in match_all:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    return msg


# -- every loader honours split, limit, per_class, seed, normalize -------------
ALL_NAMES = [
    "digits",
    "mnist",
    "fashion-mnist",
    "kmnist",
    "svhn",
    "coil-20",
    "cifar-10",
    "arrays:emb.npz",
    "arrays:emb.csv",
    "folder:shapes",
]


@pytest.fixture(scope="module")
def full_dir(tmp_path_factory) -> Path:
    """A data directory holding a small copy of every kind of dataset."""
    d = tmp_path_factory.mktemp("full") / "data"
    for name in ("mnist", "fashion-mnist", "kmnist"):
        write_mnist_like(d / name, n_train=60, n_test=30, gzipped=name != "kmnist")
    write_svhn(d)
    write_coil(d)
    write_cifar(d)
    write_folder(d)
    write_npz(d / "emb.npz")
    write_csv(d / "emb.csv")
    return d


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_loader_honours_split_limit_per_class_seed(full_dir, name):
    full = load(name, data_dir=full_dir)
    assert full.split == "train" and full.n > 10 and full.labels.dtype == np.int64
    assert full.features.dtype == np.float32 and full.features.shape == (full.n, full.dim)

    balanced = load(name, data_dir=full_dir, per_class=2, seed=1)
    counts = np.bincount(balanced.labels, minlength=full.n_classes)
    full_counts = np.bincount(full.labels, minlength=full.n_classes)
    assert np.array_equal(counts, np.minimum(full_counts, 2))
    assert np.array_equal(balanced.index, load(name, data_dir=full_dir, per_class=2, seed=1).index)
    assert not np.array_equal(balanced.index, load(name, data_dir=full_dir, per_class=2, seed=7).index)
    assert np.array_equal(balanced.features, full.features[balanced.index])

    limited = load(name, data_dir=full_dir, limit=5, seed=3)
    assert limited.n == 5 and np.all(np.diff(limited.index) > 0)
    assert np.array_equal(limited.labels, full.labels[limited.index])

    if "test" in (ds.describe(name).splits if ":" not in name else ()):
        test = load(name, data_dir=full_dir, split="test")
        assert test.split == "test" and test.n != full.n
    else:
        raises(("test",), load, name, data_dir=full_dir, split="test")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_normalize_scales_vectors_and_leaves_pixels(full_dir, name):
    scaled = load(name, data_dir=full_dir)
    raw = load(name, data_dir=full_dir, normalize=False)
    if name.startswith("arrays:"):
        assert raw.features.max() > 1.0
        assert np.allclose(scaled.features.min(axis=0), 0) and np.allclose(scaled.features.max(axis=0), 1)
    else:  # image features are pixels / 255 either way
        assert np.array_equal(scaled.features, raw.features)
        assert np.allclose(scaled.features, scaled.images.reshape(scaled.n, -1) / 255.0)


# -- built-ins -------------------------------------------------------------------
def test_digits_splits_balance_and_seed():
    train, test = load("digits"), load("digits", split="test")
    assert train.n + test.n == 1797 and 340 < test.n < 370
    assert train.image_shape == (8, 8) and train.class_names == [str(i) for i in range(10)]
    sample = load("digits", per_class=10, seed=5)
    assert np.array_equal(np.bincount(sample.labels), np.full(10, 10))
    assert np.array_equal(sample.index, load("digits", per_class=10, seed=5).index)
    assert not np.array_equal(sample.index, load("digits", per_class=10, seed=6).index)


@pytest.mark.parametrize("gzipped", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "kmnist"])
def test_idx_datasets_gzipped_and_plain(data_dir, name, gzipped):
    write_mnist_like(data_dir / name, n_train=40, n_test=20, size=28, gzipped=gzipped)
    train, test = load(name, data_dir=data_dir), load(name, data_dir=data_dir, split="test")
    assert (train.n, test.n) == (40, 20) and train.image_shape == (28, 28) and train.dim == 784
    assert np.array_equal(train.labels, np.arange(40) % 10)
    assert train.n_classes == 10 and is_present(name, data_dir)
    raw = (
        gzip.decompress((data_dir / name / "train-images-idx3-ubyte.gz").read_bytes())
        if gzipped
        else (data_dir / name / "train-images-idx3-ubyte").read_bytes()
    )
    assert np.array_equal(train.images, np.frombuffer(raw, np.uint8, offset=16).reshape(40, 28, 28))


def test_class_names_of_idx_datasets():
    assert ds.describe("fashion-mnist").loader.__doc__
    names = {n: ds.idx.CLASSES[n] for n in ("mnist", "fashion-mnist", "kmnist")}
    assert names["mnist"] == list("0123456789")
    assert names["fashion-mnist"][0] == "T-shirt/top" and names["fashion-mnist"][9] == "Ankle boot"
    assert names["kmnist"][0].startswith("o") and len(names["kmnist"]) == 10


def test_svhn_maps_label_ten_to_zero(data_dir):
    write_svhn(data_dir, n_train=30, n_test=10)
    train = load("svhn", data_dir=data_dir)
    assert train.image_shape == (32, 32, 3) and train.n == 30
    assert np.array_equal(train.labels, (np.arange(30) % 10 + 1) % 10)  # y=10 → 0
    from scipy.io import loadmat

    x = loadmat(data_dir / "svhn" / "train_32x32.mat")["X"]
    assert np.array_equal(train.images[3], x[:, :, :, 3])
    assert load("svhn", data_dir=data_dir, split="test").n == 10


def test_coil20_labels_and_views(data_dir):
    write_coil(data_dir, objects=3, views=4, size=16)
    coil = load("coil-20", data_dir=data_dir)
    assert coil.n == 12 and coil.image_shape == (16, 16) and coil.n_classes == 20
    assert np.array_equal(coil.labels, np.repeat([0, 1, 2], 4))
    assert coil.images[5, 0, 0] == 20 * 2 + 1  # obj2__1.png
    assert is_present("coil-20", data_dir)


@pytest.mark.parametrize("nested", [True, False])
def test_cifar10_batches(data_dir, nested):
    folder = write_cifar(data_dir, n=10, nested=nested)
    train = load("cifar-10", data_dir=data_dir)
    assert train.n == 50 and train.image_shape == (32, 32, 3)
    assert train.class_names == [f"class-{c}" for c in range(10)]
    first = write_cifar_batch(data_dir / "again", 10, seed=1, protocol=2)[b"data"]
    # row layout: 1024 red, 1024 green, 1024 blue values, each row-major 32×32
    assert tuple(train.images[0, 0, 1]) == (first[0, 1], first[0, 1024 + 1], first[0, 2048 + 1])
    assert load("cifar-10", data_dir=data_dir, split="test").n == 10
    (folder / "batches.meta").unlink()
    assert load("cifar-10", data_dir=data_dir).class_names[0] == "airplane"


def test_missing_builtin_files_say_where_and_how(data_dir):
    msg = raises(
        ("train-images-idx3-ubyte.gz", str(data_dir / "mnist"), "--download mnist"), load, "mnist", data_dir=data_dir
    )
    assert msg == missing_message("mnist", data_dir)
    raises(("test_32x32.mat", "svhn", "http://ufldl.stanford.edu"), load, "svhn", data_dir=data_dir, split="test")
    raises(("data_batch_1", "cifar-10"), load, "cifar-10", data_dir=data_dir)
    raises(("obj1__0.png", "coil-20"), load, "coil-20", data_dir=data_dir)


# -- bad inputs: each message names the file and the problem ----------------------
def test_idx_wrong_magic_number(data_dir):
    folder = write_mnist_like(data_dir / "mnist", n_train=20, n_test=10)
    bad = write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros(20, np.uint8))  # a labels file
    raises((str(bad), "wrong magic number 0x00000801", "0x00000803"), load, "mnist", data_dir=data_dir)


def test_idx_truncated_file(data_dir):
    folder = write_mnist_like(data_dir / "mnist", n_train=20, n_test=10, gzipped=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    raises((str(path), "truncated", "(20, 28, 28)", "15580 bytes"), load, "mnist", data_dir=data_dir)
    path.write_bytes(path.read_bytes()[:10])
    raises((str(path), "truncated", "header"), load, "mnist", data_dir=data_dir)


def test_idx_corrupt_gzip(data_dir):
    folder = write_mnist_like(data_dir / "mnist", n_train=20, n_test=10)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    raises((str(path), "corrupt gzip"), load, "mnist", data_dir=data_dir)


def test_idx_label_count_differs_from_image_count(data_dir):
    folder = write_mnist_like(data_dir / "mnist", n_train=20, n_test=10)
    path = write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(19, dtype=np.uint8) % 10)
    raises((str(path), "19 labels for 20 images", "train-images-idx3-ubyte.gz"), load, "mnist", data_dir=data_dir)


def test_idx_labels_out_of_range(data_dir):
    folder = write_mnist_like(data_dir / "mnist", n_train=20, n_test=10)
    path = write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    raises((str(path), "0..9", "12..12"), load, "mnist", data_dir=data_dir)


def test_arrays_nan_and_inf(data_dir):
    feats = np.ones((10, 3))
    feats[3, 1], feats[7, 0] = np.nan, np.inf
    path = write_npz(data_dir / "bad.npz", features=feats, labels=np.arange(10) % 2)
    raises((str(path), "2 sample(s) contain NaN or infinite", "row 3"), load, "arrays:bad.npz", data_dir=data_dir)


def test_arrays_zero_samples(data_dir):
    path = write_npz(data_dir / "empty.npz", features=np.zeros((0, 4)), labels=np.zeros(0, np.int64))
    raises((str(path), "zero samples"), load, "arrays:empty.npz", data_dir=data_dir)


def test_arrays_single_class(data_dir):
    path = write_npz(data_dir / "one.npz", labels=np.zeros(30, np.int64))
    raises((str(path), "only one class", "at least two"), load, "arrays:one.npz", data_dir=data_dir)


def test_arrays_label_count_mismatch(data_dir):
    path = write_npz(data_dir / "short.npz", labels=np.arange(29) % 3)
    raises((str(path), "29 labels for 30 samples"), load, "arrays:short.npz", data_dir=data_dir)


def test_arrays_corrupt_npz(data_dir):
    path = write_npz(data_dir / "broken.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    raises((str(path), "corrupt .npz"), load, "arrays:broken.npz", data_dir=data_dir)
    path.write_bytes(b"not a zip at all")
    raises((str(path), "corrupt .npz", "not a zip"), load, "arrays:broken.npz", data_dir=data_dir)


def test_arrays_object_arrays_are_refused(data_dir):
    path = data_dir / "objects.npz"
    np.savez(path, features=np.ones((4, 2)), labels=np.array([0, 1, 0, None], dtype=object))
    raises((str(path), "'labels'", "Python objects"), load, "arrays:objects.npz", data_dir=data_dir)


def test_arrays_missing_keys(data_dir):
    path = data_dir / "keys.npz"
    np.savez(path, vectors=np.ones((4, 2)), labels=np.arange(4) % 2)
    raises((str(path), "'features'", "vectors"), load, "arrays:keys.npz", data_dir=data_dir)


def test_path_escaping_the_data_directory_is_refused(data_dir):
    write_npz(data_dir.parent / "x.npz")
    raises(("../x.npz", "escapes the data directory"), load, "arrays:../x.npz", data_dir=data_dir)
    raises(("escapes",), load, "folder:../../", data_dir=data_dir)


def test_image_path_escaping_is_counted_not_fatal(data_dir):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(data_dir / "a.png")
    df = pd.DataFrame(
        {
            "f0": [0.0, 1.0, 2.0, 3.0],
            "label": [0, 1, 0, 1],
            "image_path": ["a.png", "../../etc/passwd", "a.png", "nowhere.png"],
        }
    )
    df.to_csv(data_dir / "paths.csv", index=False)
    got = load("arrays:paths.csv", data_dir=data_dir)
    assert got.n == 4 and got.images is None and got.meta["missing_images"] == 2
    warnings = "\n".join(got.meta["warnings"])
    assert "../../etc/passwd" in warnings and "escapes the data directory" in warnings
    assert "nowhere.png" in warnings and "not found" in warnings
    assert list(got.meta["image_paths"]) == list(df["image_path"])


def test_folder_images_of_mixed_sizes(data_dir):
    folder = write_folder(data_dir, "mixed", classes=("a", "b"), per_class=2, size=10)
    Image.fromarray(np.zeros((14, 12), np.uint8)).save(folder / "b" / "001.png")
    raises(
        (str(folder / "a" / "000.png"), str(folder / "b" / "001.png"), "mixed sizes", "10×10", "12×14"),
        load,
        "folder:mixed",
        data_dir=data_dir,
    )


def test_folder_unreadable_image_is_skipped_and_counted(data_dir):
    folder = write_folder(data_dir, "pets", classes=("cat", "dog"), per_class=3, size=8)
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    got = load("folder:pets", data_dir=data_dir)
    assert got.n == 6 and got.meta["skipped"] == 1
    assert "broken.png" in got.meta["warnings"][0] and "unreadable" in got.meta["warnings"][0]
    assert "pets/dog/broken.png" not in list(got.meta["image_paths"])


def test_malicious_cifar_pickle_is_refused_without_running(data_dir, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    folder = write_cifar(data_dir, n=10)
    path = folder / "data_batch_3"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    raises(("refusing to unpickle", f"{os.system.__module__}.system", str(path)), load, "cifar-10", data_dir=data_dir)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}))
    (folder / "data_batch_4").write_bytes(b"\x80\x04garbage")
    raises((str(folder / "data_batch_4"), "cannot unpickle"), load, "cifar-10", data_dir=data_dir)


def test_cifar_pickle_from_numpy_1_loads(data_dir):
    """Real CIFAR-10 files name ``numpy.core.multiarray``; numpy 2 moved it to ``numpy._core``."""
    folder = write_cifar(data_dir, n=10)
    batch = write_cifar_batch(folder / "data_batch_2", 10, seed=2, protocol=2)
    old = (folder / "data_batch_2").read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    (folder / "data_batch_2").write_bytes(old)
    train = load("cifar-10", data_dir=data_dir)
    assert np.array_equal(train.images[10:20].transpose(0, 3, 1, 2).reshape(10, -1), batch[b"data"])


def test_cifar_batch_of_wrong_shape(data_dir):
    folder = write_cifar(data_dir, n=10)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    raises((str(folder / "test_batch"), "N×3072"), load, "cifar-10", data_dir=data_dir, split="test")


def test_unknown_names_and_splits(data_dir):
    raises(("unknown dataset 'nope'", "digits"), load, "nope", data_dir=data_dir)
    raises(("unknown dataset kind 'zip'",), load, "zip:a.zip", data_dir=data_dir)
    write_npz(data_dir / "a.npz")
    raises(("a.npz", "no split 'test'"), load, "arrays:a.npz", data_dir=data_dir, split="test")
    raises(("no such file",), load, "arrays:none.npz", data_dir=data_dir)
    raises(("unsupported file type '.txt'",), load, "arrays:a.txt", data_dir=data_dir)


# -- data a person brings: happy paths ----------------------------------------------
def test_folder_grayscale_and_colour(data_dir):
    write_folder(data_dir, "gray", classes=("b", "a", "c"), per_class=4, size=9)
    gray = load("folder:gray", data_dir=data_dir)
    assert gray.class_names == ["a", "b", "c"] and gray.image_shape == (9, 9) and gray.n == 12
    assert np.array_equal(np.bincount(gray.labels), [4, 4, 4])
    assert gray.images[0, 0, 0] == 40 * 1  # "a" was written second
    write_folder(data_dir, "colour", classes=("x", "y"), per_class=3, size=7, colour=True)
    colour = load("folder:colour", data_dir=data_dir)
    assert colour.image_shape == (7, 7, 3) and colour.dim == 147 and colour.meta["skipped"] == 0


def test_npz_with_images_predictions_scores_and_names(data_dir):
    n = 12
    images = np.arange(n * 6 * 6, dtype=np.uint8).reshape(n, 6, 6)
    scores = np.random.default_rng(0).random((n, 3))
    write_npz(
        data_dir / "full.npz",
        n=n,
        images=images,
        predictions=np.arange(n) % 3,
        scores=scores,
        class_names=np.array(["ant", "bee", "cow"]),
    )
    got = load("arrays:full.npz", data_dir=data_dir)
    assert got.class_names == ["ant", "bee", "cow"] and got.image_shape == (6, 6)
    assert np.array_equal(got.meta["predictions"], np.arange(n) % 3)
    assert np.allclose(got.meta["scores"], scores) and got.features.max() == 1.0
    sub = load("arrays:full.npz", data_dir=data_dir, per_class=1)
    assert sub.meta["scores"].shape == (3, 3) and np.array_equal(sub.images, images[sub.index])


def test_npz_alternative_keys_and_string_labels(data_dir):
    np.savez(data_dir / "emb.npz", embeddings=np.eye(6), y=np.array(["b", "a", "c", "a", "b", "c"]))
    got = load("arrays:emb.npz", data_dir=data_dir, normalize=False)
    assert got.class_names == ["a", "b", "c"] and list(got.labels) == [1, 0, 2, 0, 1, 2]
    assert np.array_equal(got.features, np.eye(6))


@pytest.mark.parametrize("sidecar", ["{}.labels.npy", "{}_labels.npy"])
def test_npy_with_labels_sidecar(data_dir, sidecar):
    np.save(data_dir / "vec.npy", np.arange(20.0).reshape(10, 2))
    np.save(data_dir / sidecar.format("vec"), np.arange(10) % 2)
    got = load("arrays:vec.npy", data_dir=data_dir)
    assert got.n == 10 and got.dim == 2 and got.name == "arrays:vec.npy"


def test_npy_without_labels_says_which_file(data_dir):
    np.save(data_dir / "lonely.npy", np.ones((3, 2)))
    raises(("lonely.npy", "lonely.labels.npy", "lonely_labels.npy"), load, "arrays:lonely.npy", data_dir=data_dir)


def test_csv_with_string_labels_predictions_and_meta(data_dir):
    df = write_csv(data_dir / "table.csv", n=30, dim=4)
    got = load("arrays:table.csv", data_dir=data_dir, normalize=False)
    assert got.class_names == ["bird", "cat", "dog"] and got.dim == 4
    assert np.allclose(got.features, df[[f"f{i}" for i in range(4)]].to_numpy())
    assert [got.class_names[i] for i in got.labels[:3]] == ["cat", "dog", "bird"]
    assert [got.class_names[i] for i in got.meta["predictions"][:3]] == ["dog", "bird", "cat"]
    assert list(got.meta["note"][:2]) == ["sample 0", "sample 1"]


def test_csv_numeric_columns_and_split_column(data_dir):
    df = pd.DataFrame(
        {
            "height": [1.0, 2, 3, 4, 5, 6],
            "width": [6.0, 5, 4, 3, 2, 1],
            "label": [0, 1] * 3,
            "split": ["train"] * 4 + ["test"] * 2,
            "score_0": [0.1] * 6,
            "score_1": [0.9] * 6,
        }
    )
    df.to_csv(data_dir / "num.csv", index=False)
    train = load("arrays:num.csv", data_dir=data_dir, normalize=False)
    test = load("arrays:num.csv", data_dir=data_dir, split="test", normalize=False)
    assert train.dim == 2 and train.n == 4 and test.n == 2
    assert np.allclose(test.features, [[5, 2], [6, 1]]) and test.meta["scores"].shape == (2, 2)


def test_csv_missing_label_names_the_row(data_dir):
    pd.DataFrame({"f0": [1.0, 2, 3], "label": ["a", None, "b"]}).to_csv(data_dir / "hole.csv", index=False)
    raises(("hole.csv", "row 1"), load, "arrays:hole.csv", data_dir=data_dir)


def test_parquet_with_list_column_and_image_paths(data_dir):
    for i in range(4):
        Image.fromarray(np.full((5, 5, 3), 50 * i, np.uint8)).save(data_dir / f"img{i}.png")
    df = pd.DataFrame(
        {
            "embedding": [[float(i), float(i * i), 1.0] for i in range(4)],
            "label": [0, 1, 0, 1],
            "prediction": [0, 1, 1, 1],
            "image_path": [f"img{i}.png" for i in range(4)],
        }
    )
    df.to_parquet(data_dir / "emb.parquet")
    got = load("arrays:emb.parquet", data_dir=data_dir, normalize=False)
    assert got.dim == 3 and np.allclose(got.features[:, 1], [0, 1, 4, 9])
    assert got.meta["missing_images"] == 0 and got.image_shape == (5, 5, 3) and got.images[2, 0, 0, 0] == 100
    assert list(got.meta["predictions"]) == [0, 1, 1, 1]


def test_parquet_ragged_lists(data_dir):
    pd.DataFrame({"v": [[1.0, 2.0], [3.0]], "label": [0, 1]}).to_parquet(data_dir / "ragged.parquet")
    raises(("ragged.parquet", "different lengths", "row 1"), load, "arrays:ragged.parquet", data_dir=data_dir)


# -- discovery and presence -----------------------------------------------------------
def test_discover_and_is_present(data_dir):
    write_npz(data_dir / "emb.npz")
    np.save(data_dir / "vec.npy", np.ones((4, 2)))
    np.save(data_dir / "vec.labels.npy", np.arange(4) % 2)
    np.save(data_dir / "vec_labels.npy", np.arange(4) % 2)
    write_csv(data_dir / "t.csv")
    write_folder(data_dir, "pets", classes=("cat", "dog"), per_class=1)
    write_folder(data_dir, "single", classes=("only",), per_class=1)
    write_coil(data_dir, objects=2, views=1)
    (data_dir / "notes.txt").write_text("hi")
    assert discover(data_dir) == ["arrays:emb.npz", "folder:pets", "arrays:t.csv", "arrays:vec.npy"]
    assert discover(data_dir / "missing") == []
    assert is_present("digits", data_dir) and is_present("coil-20", data_dir)
    assert not is_present("mnist", data_dir) and not is_present("cifar-10", data_dir)
    write_mnist_like(data_dir / "mnist", n_train=10, n_test=10, gzipped=False)
    assert is_present("mnist", data_dir) and "folder:mnist" not in discover(data_dir)
    assert is_present("arrays:emb.npz", data_dir) and not is_present("arrays:no.npz", data_dir)
    for name in discover(data_dir):
        assert load(name, data_dir=data_dir).n > 0


def test_discover_finds_arrays_in_sub_folders_only_once_each(data_dir):
    """The one search the picker and the Explore tab share: arrays files below the top too, never
    a sidecar, never inside a built-in's folder, hidden ones skipped, capped by ``limit``."""
    for sub in ("runs/a", ".hidden", "mnist"):
        (data_dir / sub).mkdir(parents=True)
    write_npz(data_dir / "runs" / "a" / "emb.npz")
    np.save(data_dir / "runs" / "vec.npy", np.ones((4, 2)))
    np.save(data_dir / "runs" / "vec_labels.npy", np.arange(4) % 2)
    write_npz(data_dir / ".hidden" / "x.npz")
    write_npz(data_dir / "mnist" / "inside.npz")
    write_npz(data_dir / "top.npz")
    assert discover(data_dir) == ["arrays:runs/a/emb.npz", "arrays:runs/vec.npy", "arrays:top.npz"]
    assert discover(data_dir, limit=2) == ["arrays:runs/a/emb.npz", "arrays:runs/vec.npy"]
    assert load("arrays:runs/a/emb.npz", data_dir=data_dir).n > 0


# -- download against a local server ------------------------------------------------
@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 (random port) serving ``tmp_path/mirror``."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _served_mnist(root: Path) -> dict[str, str]:
    write_mnist_like(root, n_train=30, n_test=20, gzipped=True)
    return {p.name: sha256(p) for p in sorted(root.iterdir())}


def test_download_success_then_load(data_dir, mirror):
    root, url = mirror
    sums = _served_mnist(root)
    seen = []
    paths = download("mnist", data_dir, base_url=url, checksums=sums, progress=seen.append)
    assert sorted(p.name for p in paths) == sorted(sums)
    assert sorted(os.listdir(data_dir / "mnist")) == sorted(sums)  # no .part left over
    assert all(sha256(p) == sums[p.name] for p in paths)
    assert seen and seen[-1].fraction == 1.0 and any(0 < p.done for p in seen)
    assert load("mnist", data_dir=data_dir).n == 30
    again = []
    download("mnist", data_dir, base_url=url, checksums=sums, progress=again.append)
    assert all("already here" in p.message for p in again)


def test_download_bad_hash_leaves_nothing(data_dir, mirror):
    root, url = mirror
    sums = {name: "0" * 64 for name in _served_mnist(root)}
    raises(
        ("SHA-256", url, "does not match", "nothing was kept"),
        download,
        "mnist",
        data_dir,
        base_url=url,
        checksums=sums,
    )
    assert not (data_dir / "mnist").exists()  # no partial file, and no empty folder made by the download


def test_download_server_404(data_dir, mirror):
    _, url = mirror
    raises(
        (f"{url}train-images-idx3-ubyte.gz", "404"),
        download,
        "mnist",
        data_dir,
        base_url=url,
        checksums={"train-images-idx3-ubyte.gz": "0" * 64},
    )
    assert not (data_dir / "mnist").exists()  # no partial file, and no empty folder made by the download


def test_download_only_idx_datasets_and_table_is_complete(data_dir):
    raises(("cannot download 'svhn'", "mnist, fashion-mnist, kmnist", "train_32x32.mat"), download, "svhn", data_dir)
    for _name, (url, table) in ((n, ds.describe(n).download) for n in ds.downloadable()):
        assert url.startswith("http") and sorted(table) == sorted(
            f"{b}.gz" for s in ("train", "test") for b in ds.idx.FILES[s]
        )
        for size, sha, md5 in table.values():
            assert size > 0 and len(sha) == 64 and len(md5) == 32 and int(sha, 16) >= 0 and int(md5, 16) >= 0


# -- command line ---------------------------------------------------------------------
def test_cli_list_and_check(full_dir, capsys):
    assert ds.main(["--data-dir", str(full_dir), "--list"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "present" in out and "arrays:emb.npz" in out and "folder:shapes" in out
    assert ds.main(["--data-dir", str(full_dir), "--check", "svhn", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "n=20" in out and "dims=3072" in out and "classes=10" in out


def test_cli_errors_exit_2_without_traceback(data_dir, capsys):
    assert ds.main(["--data-dir", str(data_dir), "--check", "mnist"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: mnist: missing") and "--download mnist" in err
    assert ds.main(["--data-dir", str(data_dir), "--download", "cifar-10"]) == 2
    assert "error: cannot download 'cifar-10'" in capsys.readouterr().err


def test_cli_download_draws_progress(data_dir, mirror, monkeypatch, capsys):
    root, url = mirror
    sums = _served_mnist(root)
    spec = ds.Download(url, {f: (None, h, None) for f, h in sums.items()})
    monkeypatch.setitem(ds.registry.REGISTRY, "mnist", dataclasses.replace(ds.describe("mnist"), download=spec))
    assert ds.main(["--data-dir", str(data_dir), "--download", "mnist"]) == 0
    captured = capsys.readouterr()
    assert "100.0%" in captured.err and str(data_dir / "mnist" / "train-images-idx3-ubyte.gz") in captured.out


def test_cli_as_module_in_subprocess(data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "models.datasets", "--data-dir", str(data_dir), "--check", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown dataset 'nope'")
    assert "Traceback" not in proc.stderr


def test_importing_models_stays_light():
    code = (
        "import sys, models, models.datasets; "
        "print(json.dumps(sorted(m for m in ('dash', 'plotly', 'torch') if m in sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import json; " + code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
