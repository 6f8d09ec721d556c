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
from models.datasets.limits import ENV_ARRAY_BYTES, ENV_IMAGE_PIXELS, Limits, limits
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
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps([name, str(data_dir)]),
                          capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refused(name: str, data_dir: Path, *fragments: str, **env: str) -> str:
    """``name`` fails with a DatasetError holding every fragment, using under 1 GiB; its message."""
    out = load_in_child(name, data_dir, **env)
    assert out["error"] == "DatasetError", out
    for fragment in fragments:
        assert fragment in out["message"], f"{fragment!r} not in {out['message']!r}"
    assert out["peak_kib"] < GIB_KIB, f"peak {out['peak_kib'] / 1024:.0f} MiB for {name}"
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
    assert Limits() == Limits(max_array_bytes=4 << 30, max_image_pixels=50_000_000)
    lim = Limits.from_env({ENV_ARRAY_BYTES: "1_000", ENV_IMAGE_PIXELS: "2000"})
    assert (lim.max_array_bytes, lim.max_image_pixels) == (1000, 2000)
    with pytest.raises(DatasetError, match=ENV_ARRAY_BYTES):
        Limits.from_env({ENV_ARRAY_BYTES: "lots"})
    with pytest.raises(DatasetError, match=ENV_IMAGE_PIXELS):
        Limits.from_env({ENV_IMAGE_PIXELS: "0"})
    assert isinstance(limits(), Limits)


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
    path = write_zip(data_dir / "bomb.npz", {"features.npy": npy_bytes((10 ** 11, 1000)),
                                             "labels.npy": npy_of(np.arange(4) % 2)}, compressed=True)
    assert path.stat().st_size < 3 << 20
    refused("arrays:bomb.npz", data_dir, str(path), "'features'")


def test_npz_members_over_the_array_limit_are_refused(data_dir):
    """Real, highly compressible members: the zip directory's sizes are checked against the limit."""
    path = data_dir / "big.npz"
    np.savez_compressed(path, features=np.zeros((2000, 1000)), labels=np.arange(2000) % 2)  # 16 MB inside
    message = refused("arrays:big.npz", data_dir, str(path), "over the limit", ENV_ARRAY_BYTES,
                      **{ENV_ARRAY_BYTES: str(1 << 20)})
    assert "features" in message


def test_npy_header_claiming_more_than_the_file_is_refused(data_dir):
    path = data_dir / "bomb.npy"
    path.write_bytes(npy_bytes((10 ** 11, 1000)))
    np.save(data_dir / "bomb.labels.npy", np.arange(4) % 2)
    refused("arrays:bomb.npy", data_dir, str(path), "truncated")


def test_npy_over_the_array_limit_is_refused(data_dir):
    np.save(data_dir / "wide.npy", np.zeros((100, 5000)))
    np.save(data_dir / "wide.labels.npy", np.arange(100) % 2)
    refused("arrays:wide.npy", data_dir, str(data_dir / "wide.npy"), "over the limit",
            **{ENV_ARRAY_BYTES: str(1 << 20)})


def test_truncated_npz_member_is_reported_as_truncated(data_dir):
    whole = npy_of(np.ones((50, 8)))
    path = write_zip(data_dir / "cut.npz", {"features.npy": whole[: len(whole) // 2],
                                            "labels.npy": npy_of(np.arange(50) % 2)})
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
