"""Bounded input: every bomb and bad name is a ``DatasetError`` naming the file, within 1 GiB.

Each hostile load runs in a child process that prints its peak resident memory
(``VmHWM``), so a loader that allocates what a header claims shows up here even when the
machine could afford it. Also: links that leave the data directory, complex features, a truncated
``.npz`` member, skipped images reported, and a normal MNIST-like file still loading.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.datasets import DatasetError, load
from models.datasets.limits import ENV_ARRAY_BYTES, ENV_CLASSES, ENV_COLUMNS, ENV_IMAGE_PIXELS, Limits, limits
from tests.conftest import write_idx, write_mnist_like

ROOT = Path(__file__).resolve().parents[1]
GIB_KIB = 1 << 20  # ru_maxrss is in KiB on Linux

_CHILD = r"""
import json, resource, sys
name, data_dir = json.loads(sys.stdin.read())
from models.datasets import DatasetError, load
try:
    ds = load(name, data_dir=data_dir)
    out = {"error": None, "n": ds.n, "warnings": ds.meta.get("warnings", [])}
except DatasetError as exc:
    out = {"error": "DatasetError", "message": str(exc)}
except BaseException as exc:
    out = {"error": type(exc).__name__, "message": str(exc)}
def peak_kib():
    # VmHWM is this process's own high-water mark; ru_maxrss would also carry the RSS of the
    # (possibly > 1 GiB) test process this child was forked from, kept across exec by Linux
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["peak_kib"] = peak_kib()
print(json.dumps(out))
"""


def load_in_child(name: str, data_dir: Path, **env: str) -> dict:
    """Load ``name`` in a fresh interpreter; its outcome and peak memory (KiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps([name, str(data_dir)]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refused(name: str, data_dir: Path, *fragments: str, peak_kib: int = GIB_KIB, **env: str) -> str:
    """``name`` fails with a DatasetError holding every fragment, using under ``peak_kib`` (1 GiB); its message."""
    out = load_in_child(name, data_dir, **env)
    assert out["error"] == "DatasetError", out
    for fragment in fragments:
        assert fragment in out["message"], f"{fragment!r} not in {out['message']!r}"
    assert out["peak_kib"] < peak_kib, f"peak {out['peak_kib'] / 1024:.0f} MiB for {name}"
    return out["message"]


def idx_header(dims: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def mnist_folder(data_dir: Path, images: bytes, *, gzipped: bool) -> Path:
    """``data_dir/mnist`` with the given raw images file (train split) and 10 real labels."""
    folder = data_dir / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gzipped else ""
    path = folder / f"train-images-idx3-ubyte{ext}"
    path.write_bytes(images)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", np.arange(10) % 10, gzipped=gzipped)
    return path


def npy_bytes(header_shape: tuple[int, ...], dtype: str = "<f8", data: bytes = b"\0" * 64) -> bytes:
    """A .npy file whose header claims ``header_shape`` whatever ``data`` really holds."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": header_shape})
    return buf.getvalue() + data  # the writer puts the magic string first


def npy_of(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def write_zip(path: Path, members: dict[str, bytes], compressed: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def png_bytes(size: tuple[int, int] = (8, 8), value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width``×``height`` (its pixel data is a few bytes)."""
    raw = bytearray(png_bytes())
    ihdr = raw[12:29]  # b"IHDR" + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    raw[12:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


# -- limits themselves ---------------------------------------------------------
def test_limits_defaults_and_environment():
    assert Limits() == Limits(
        max_array_bytes=4 << 30, max_image_pixels=50_000_000, max_classes=100_000, max_columns=65_536
    )
    lim = Limits.from_env({ENV_ARRAY_BYTES: "1_000", ENV_IMAGE_PIXELS: "2000", ENV_CLASSES: "7", ENV_COLUMNS: "9"})
    assert (lim.max_array_bytes, lim.max_image_pixels, lim.max_classes, lim.max_columns) == (1000, 2000, 7, 9)
    with pytest.raises(DatasetError, match=ENV_ARRAY_BYTES):
        Limits.from_env({ENV_ARRAY_BYTES: "lots"})
    with pytest.raises(DatasetError, match=ENV_IMAGE_PIXELS):
        Limits.from_env({ENV_IMAGE_PIXELS: "0"})
    assert isinstance(limits(), Limits)


def test_model_limits_read_the_environment_as_the_dataset_limits_do():
    from models.capture import ModelError
    from models.capture.model_limits import ENV_MODEL_BYTES, ModelLimits

    assert ModelLimits.from_env({}) == ModelLimits() and ModelLimits.from_env({ENV_MODEL_BYTES: " "}) == ModelLimits()
    assert ModelLimits.from_env({ENV_MODEL_BYTES: "1_000"}).max_model_bytes == 1000
    with pytest.raises(ModelError, match=f"{ENV_MODEL_BYTES}='lots': must be a whole number of bytes"):
        ModelLimits.from_env({ENV_MODEL_BYTES: "lots"})
    with pytest.raises(ModelError, match="at least 1"):
        ModelLimits.from_env({ENV_MODEL_BYTES: "0"})
    with pytest.raises(DatasetError, match=r"must be a whole number \(e.g."):
        Limits.from_env({ENV_CLASSES: "7.5"})


# -- IDX / gzip ----------------------------------------------------------------
@pytest.mark.parametrize("gzipped", [False, True])
def test_zero_image_idx_is_refused(data_dir, gzipped):
    data = idx_header((0, 28, 28))
    path = mnist_folder(data_dir, gzip.compress(data) if gzipped else data, gzipped=gzipped)
    refused("mnist", data_dir, str(path), "zero images")


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_header_claiming_terabytes_is_refused_before_allocating(data_dir, gzipped):
    data = idx_header((4_000_000_000, 28, 28)) + bytes(3 << 20)  # a 3 MB file claiming 3 TB
    path = mnist_folder(data_dir, gzip.compress(data) if gzipped else data, gzipped=gzipped)
    refused("mnist", data_dir, str(path), "over the limit", ENV_ARRAY_BYTES)


def test_small_gzip_claiming_more_than_it_can_expand_to(data_dir):
    # 1,000,000 images fit the limit, but 1 KB of gzip cannot hold 784 MB
    path = mnist_folder(data_dir, gzip.compress(idx_header((1_000_000, 28, 28)) + bytes(1000)), gzipped=True)
    refused("mnist", data_dir, str(path), "truncated IDX file")


def test_gzip_bomb_stops_past_the_declared_size(data_dir):
    """A 1 MB gzip that claims 10 images but inflates to 1.2 GB is read one byte past the 10 images."""
    folder = data_dir / "mnist"
    folder.mkdir()
    path = folder / "train-images-idx3-ubyte.gz"
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)  # gzip members may follow each other
    path.write_bytes(gzip.compress(idx_header((10, 28, 28)) + bytes(1 << 20)) + zeros * 1200)
    assert path.stat().st_size < 2 << 20
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(10) % 10)
    refused("mnist", data_dir, str(path), "trailing bytes")


def test_mnist_like_file_still_loads_within_limits(data_dir):
    write_mnist_like(data_dir / "mnist")
    out = load_in_child("mnist", data_dir)
    assert out["error"] is None and out["n"] == 200, out
    assert out["peak_kib"] < GIB_KIB


# -- .npz / .npy ---------------------------------------------------------------
def test_npz_header_claiming_1e14_values_is_refused(data_dir):
    path = write_zip(
        data_dir / "bomb.npz",
        {"features.npy": npy_bytes((10**11, 1000)), "labels.npy": npy_of(np.arange(4) % 2)},
        compressed=True,
    )
    assert path.stat().st_size < 3 << 20
    refused("arrays:bomb.npz", data_dir, str(path), "'features'")


def test_npz_members_over_the_array_limit_are_refused(data_dir):
    """Real, highly compressible members: the zip directory's sizes are checked against the limit."""
    path = data_dir / "big.npz"
    np.savez_compressed(path, features=np.zeros((2000, 1000)), labels=np.arange(2000) % 2)  # 16 MB inside
    message = refused(
        "arrays:big.npz", data_dir, str(path), "over the limit", ENV_ARRAY_BYTES, **{ENV_ARRAY_BYTES: str(1 << 20)}
    )
    assert "features" in message


def test_npy_header_claiming_more_than_the_file_is_refused(data_dir):
    path = data_dir / "bomb.npy"
    path.write_bytes(npy_bytes((10**11, 1000)))
    np.save(data_dir / "bomb.labels.npy", np.arange(4) % 2)
    refused("arrays:bomb.npy", data_dir, str(path), "truncated")


def test_npy_over_the_array_limit_is_refused(data_dir):
    np.save(data_dir / "wide.npy", np.zeros((100, 5000)))
    np.save(data_dir / "wide.labels.npy", np.arange(100) % 2)
    refused(
        "arrays:wide.npy", data_dir, str(data_dir / "wide.npy"), "over the limit", **{ENV_ARRAY_BYTES: str(1 << 20)}
    )


def test_truncated_npz_member_is_reported_as_truncated(data_dir):
    whole = npy_of(np.ones((50, 8)))
    path = write_zip(
        data_dir / "cut.npz", {"features.npy": whole[: len(whole) // 2], "labels.npy": npy_of(np.arange(50) % 2)}
    )
    refused("arrays:cut.npz", data_dir, str(path), "'features'", "truncated: its header says shape (50, 8)")


def test_npz_cut_short_is_reported_as_truncated(data_dir):
    path = data_dir / "short.npz"
    np.savez(path, features=np.ones((50, 8)), labels=np.arange(50) % 2)
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 40])
    refused("arrays:short.npz", data_dir, str(path), "truncated")


@pytest.mark.parametrize("fmt", ["npz", "npy"])
def test_complex_features_are_refused(data_dir, fmt):
    features = np.ones((6, 3)) + 1j * np.arange(18).reshape(6, 3)
    if fmt == "npz":
        np.savez(data_dir / "c.npz", features=features, labels=np.arange(6) % 2)
    else:
        np.save(data_dir / "c.npy", features)
        np.save(data_dir / "c.labels.npy", np.arange(6) % 2)
    with pytest.raises(DatasetError, match="complex") as info:
        load(f"arrays:c.{fmt}", data_dir=data_dir)
    assert str(data_dir / f"c.{fmt}") in str(info.value)


# -- what loading allocates, not what the file stores (issue 18) ---------------------------
#: a child that imports the loaders (numpy, pandas, pyarrow, scipy) and loads nothing peaks near here
BASE_KIB = 400 << 10
MIB = 1 << 20


def npz_streamed(path: Path, n: int, d: int, dtype: str = "|u1") -> Path:
    """An .npz of ``n``×``d`` uint8 features (a sparse pattern of ones) written row block by row block into
    a deflated member, so the test never holds them; 200 MB of them compress to under 1 MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("features.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": dtype, "fortran_order": False, "shape": (n, d)})
            row = np.zeros(d, np.uint8)
            row[::7] = 1
            block = np.tile(row, (1000, 1)).tobytes()
            for i in range(0, n, 1000):
                fh.write(block[: min(1000, n - i) * d])
        zf.writestr("labels.npy", npy_of(np.arange(n) % 2))
    return path


def test_uint8_npz_is_counted_as_the_float32_features_it_becomes(data_dir):
    """200 MB of uint8 stored (under a 300 MB limit) become 800 MB of float32: refused before numpy reads them
    (it peaked at 2.4 GB when the limit counted 1 byte a value)."""
    path = npz_streamed(data_dir / "u8.npz", 200_000, 1000)
    assert path.stat().st_size < 1 << 20
    message = refused(
        "arrays:u8.npz",
        data_dir,
        str(path),
        "over the limit",
        "float32",
        ENV_ARRAY_BYTES,
        peak_kib=BASE_KIB,
        **{ENV_ARRAY_BYTES: str(300 * MIB)},
    )
    assert "uint8" in message


def test_uint8_npz_within_the_limit_loads_within_it(data_dir):
    """What the check counts is what loading takes: 20 MB of uint8 (100 MB counted) load under a 120 MB limit,
    and the load's peak stays within the limit above what the interpreter holds before loading."""
    npz_streamed(data_dir / "u8.npz", 20_000, 1000)
    npz_streamed(data_dir / "tiny.npz", 20, 1000)
    idle = load_in_child("arrays:tiny.npz", data_dir)["peak_kib"]  # the same child, loading the same kind of file
    out = load_in_child("arrays:u8.npz", data_dir, **{ENV_ARRAY_BYTES: str(120 * MIB)})
    assert out["error"] is None and out["n"] == 20_000, out
    assert out["peak_kib"] - idle < 120 * 1024, f"{(out['peak_kib'] - idle) / 1024:.0f} MiB over the idle child"


def test_npy_uint8_is_counted_as_float32_too(data_dir):
    np.save(data_dir / "u8.npy", np.zeros((1000, 1000), np.uint8))
    np.save(data_dir / "u8.labels.npy", np.arange(1000) % 2)
    refused(
        "arrays:u8.npy",
        data_dir,
        str(data_dir / "u8.npy"),
        "float32",
        "over the limit",
        **{ENV_ARRAY_BYTES: str(3 * MIB)},
    )  # 1 MB stored, 5 MB once loaded


def test_csv_header_of_a_million_columns_is_refused_before_parsing(data_dir):
    """10⁶ columns took 90 s and 3.2 GB in pandas; the header line is measured first."""
    path = data_dir / "wide.csv"
    path.write_text(",".join(f"f{i}" for i in range(1_000_000)) + ",label\n" + "0," * 1_000_000 + "1\n")
    refused("arrays:wide.csv", data_dir, str(path), "header line is longer", peak_kib=BASE_KIB)


def test_csv_with_more_columns_than_the_limit_is_refused_before_parsing(data_dir):
    path = data_dir / "wide.csv"
    path.write_text("a," * 100_000 + "label\n" + "0," * 100_000 + "1\n")  # a 200 KB header
    refused("arrays:wide.csv", data_dir, str(path), "100,001 columns", ENV_COLUMNS, peak_kib=BASE_KIB)


@pytest.mark.parametrize("top", [10**12, 30_000_000, 2**64 - 1])
def test_huge_class_ids_are_refused_before_a_class_list_is_built(data_dir, top):
    """A label of 10¹² asked for a trillion class names (MemoryError); 3×10⁷ made 30,000,001 classes."""
    path = data_dir / "ids.csv"
    path.write_text(f"f0,f1,label\n0,1,0\n1,0,{top}\n1,1,1\n")
    refused(
        "arrays:ids.csv", data_dir, str(path), f"largest class id is {top}", "at row 1", ENV_CLASSES, peak_kib=BASE_KIB
    )


@pytest.mark.parametrize("fmt", ["npz", "npy", "mat", "parquet"])
def test_class_ids_over_the_limit_are_refused_in_every_arrays_format(data_dir, fmt):
    features, labels = np.ones((4, 3), np.float32), np.array([0, 1, 1, 100_000])
    path = data_dir / f"ids.{fmt}"
    if fmt == "npz":
        np.savez(path, features=features, labels=labels)
    elif fmt == "npy":
        np.save(path, features)
        np.save(data_dir / "ids.labels.npy", labels)
    elif fmt == "mat":
        from scipy.io import savemat

        savemat(path, {"X": features.astype(np.float64), "y": labels.astype(np.float64)})
    else:
        import pandas as pd

        pd.DataFrame({"f0": features[:, 0], "f1": features[:, 1], "label": labels}).to_parquet(path)
    with pytest.raises(DatasetError, match="100,001 classes") as info:
        load(f"arrays:ids.{fmt}", data_dir=data_dir)
    assert str(path) in str(info.value)
    labels[-1] = 99_999  # the largest id allowed
    if fmt == "npz":
        np.savez(path, features=features, labels=labels)
        assert load("arrays:ids.npz", data_dir=data_dir).n_classes == 100_000


def test_class_ids_as_floats_or_names_are_bounded_too(data_dir, monkeypatch):
    np.savez(data_dir / "f.npz", features=np.ones((3, 2)), labels=np.array([0.0, 1.0, 1e300]))
    with pytest.raises(DatasetError, match="largest class id is 1e"):
        load("arrays:f.npz", data_dir=data_dir)
    np.savez(data_dir / "s.npz", features=np.ones((12, 2)), labels=np.array([f"c{i}" for i in range(12)]))
    assert load("arrays:s.npz", data_dir=data_dir).n_classes == 12
    monkeypatch.setenv(ENV_CLASSES, "11")
    with pytest.raises(DatasetError, match="12 distinct names.*over the limit of 11"):
        load("arrays:s.npz", data_dir=data_dir)


def test_parquet_that_decodes_to_far_more_than_it_stores_is_refused(data_dir):
    """Run-length encoding stores 20 million zeros in a few hundred KB: the footer's value counts are checked."""
    import pandas as pd

    path = data_dir / "zeros.parquet"
    pd.DataFrame({"f0": np.zeros(5_000_000), "label": np.arange(5_000_000) % 2}).to_parquet(path)
    assert path.stat().st_size < 1 << 20
    refused(
        "arrays:zeros.parquet",
        data_dir,
        str(path),
        "over the limit",
        peak_kib=BASE_KIB,
        **{ENV_ARRAY_BYTES: str(100 * MIB)},
    )


# -- names -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["arrays:" + "a" * 5000 + ".npz", "b" * 5000, "folder:" + "c" * 300])
def test_overlong_names_are_refused(data_dir, name):
    message = refused(name, data_dir, name[:40])
    assert len(message) < 1000


@pytest.mark.parametrize("name", ["arrays:fo\x00o.npz", "mni\x00st", "folder:a\nb"])
def test_names_with_control_characters_are_refused(data_dir, name):
    refused(name, data_dir, repr(name)[:6], "control character")


# -- images ----------------------------------------------------------------------
def image_folder(data_dir: Path, name: str = "pets", classes=("cats", "dogs"), n: int = 3) -> Path:
    for c in classes:
        (data_dir / name / c).mkdir(parents=True)
        for i in range(n):
            (data_dir / name / c / f"{i}.png").write_bytes(png_bytes(value=40 * i + (100 if c == "dogs" else 0)))
    return data_dir / name


def test_image_claiming_gigapixels_is_refused_before_decoding(data_dir):
    folder = image_folder(data_dir)
    bomb = folder / "cats" / "huge.png"
    bomb.write_bytes(png_claiming(100_000, 100_000))
    refused("folder:pets", data_dir, str(bomb), "pixels", ENV_IMAGE_PIXELS)


@pytest.mark.parametrize("limit, says", [("50", "8×8 = 64 pixels"), ("10", "over the limit of 10 pixels")])
def test_image_over_a_lowered_pixel_limit_is_refused(data_dir, limit, says):
    """Our check before decoding (up to twice the limit) and Pillow's guard (beyond) both name the file."""
    image_folder(data_dir)
    refused("folder:pets", data_dir, "0.png", says, ENV_IMAGE_PIXELS, **{ENV_IMAGE_PIXELS: limit})


def test_corrupt_images_are_skipped_and_reported(data_dir):
    folder = image_folder(data_dir)
    (folder / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = load("folder:pets", data_dir=data_dir)
    assert ds.n == 6 and ds.meta["skipped"] == 1
    assert len(ds.meta["warnings"]) == 1 and "broken.png" in ds.meta["warnings"][0]


# -- links leaving the data directory --------------------------------------------------
def test_symlinked_class_folder_leaving_the_data_directory_is_refused(tmp_path, data_dir):
    outside = image_folder(tmp_path, "outside", classes=("cats",))
    image_folder(data_dir, classes=("dogs", "birds"))
    link = data_dir / "pets" / "cats"
    link.symlink_to(outside / "cats", target_is_directory=True)
    refused("folder:pets", data_dir, str(link), "outside the data directory")


def test_symlinked_image_leaving_the_data_directory_is_refused(tmp_path, data_dir):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    image_folder(data_dir)
    link = data_dir / "pets" / "cats" / "zz.png"
    link.symlink_to(outside)
    refused("folder:pets", data_dir, str(link), "outside the data directory")


def test_links_inside_the_data_directory_still_load(data_dir):
    image_folder(data_dir, "real")
    (data_dir / "linked").mkdir()
    for c in ("cats", "dogs"):
        (data_dir / "linked" / c).symlink_to(data_dir / "real" / c, target_is_directory=True)
    assert load("folder:linked", data_dir=data_dir).n == 6


# -- the shell's dataset line ---------------------------------------------------------
def _dataset_info(data_dir: Path, store_dir: Path):
    from dashboard.app import create_app
    from dashboard.config import AppConfig

    app = create_app(AppConfig(data_dir=data_dir, store_dir=store_dir, cache_dir=store_dir.parent / "cache"))
    return app.callback_map["dataset-info.children"]["callback"].__wrapped__


def test_dataset_line_reports_skipped_images_and_failures(data_dir, store_dir):
    folder = image_folder(data_dir)
    (folder / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    mnist_folder(data_dir, idx_header((0, 28, 28)), gzipped=False)
    info = _dataset_info(data_dir, store_dir)
    line = info("folder:pets")
    assert "6 training samples" in line[0]
    assert line[1].children == "1 unreadable image skipped" and "broken.png" in line[1].title
    alert = info("mnist")
    assert "zero images" in alert.children and "training samples" not in str(alert)
