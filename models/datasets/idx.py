"""MNIST, Fashion-MNIST and KMNIST: four IDX files each in ``<data_dir>/<name>/``, gzipped or not,
downloadable with checksums (the spec is part of each entry)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from .dataset import FEATURE_BYTES, Dataset, DatasetError, check_label_range, images_to_features
from .limits import MAX_DEFLATE_RATIO, check_array_bytes, declared_bytes
from .registry import Download, Entry, register, require_files

#: the base names of a split's (images, labels) files; ``.gz`` is added when downloading
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_MAGIC = {1: 0x0801, 3: 0x0803}  # unsigned bytes, 1-D labels / 3-D images


_CHUNK = 1 << 20  # gzip is decompressed this many bytes at a time, straight into the array


def _open_maybe_gzip(path: Path, fh: BinaryIO) -> tuple[BinaryIO, bool]:
    """``fh`` itself, or a streaming gunzip of it when it is a gzip file (by content, not by name)."""
    gzipped = fh.read(2) == b"\x1f\x8b"
    fh.seek(0)
    return (gzip.GzipFile(fileobj=fh, mode="rb") if gzipped else fh), gzipped


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        part = stream.read(n - len(out))
        if not part:
            break
        out += part
    return out


def read_idx(path: str | os.PathLike, ndim: int, *, bytes_per_value: int = 1) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions (1: labels, 3: images).

    The header is checked before any data is trusted or allocated: the magic number must say
    unsigned bytes with ``ndim`` dimensions, no dimension may be zero, the array the dimensions
    claim must fit the array limit (:mod:`.limits`) and the file must be able to hold it (its
    exact size, or for gzip what deflate could expand it to). Data is then read (gunzipped in
    bounded chunks) into the array and must be exactly as long as the dimensions claim, so a
    truncated, padded or mislabelled file fails with a message instead of a garbled array, and
    a gzip bomb stops one byte past the claimed size. ``bytes_per_value``: what each value will
    cost once loaded (images: 1 byte plus a 4-byte float feature), counted against the limit.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            stream, gzipped = _open_maybe_gzip(path, fh)
            return _read_idx_stream(path, stream, gzipped, path.stat().st_size, ndim, bytes_per_value)
    except DatasetError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: corrupt gzip data ({exc}); download the file again") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_idx_stream(
    path: Path, stream: BinaryIO, gzipped: bool, file_size: int, ndim: int, bytes_per_value: int
) -> np.ndarray:
    header = 4 + 4 * ndim
    head = _read_exactly(stream, header)
    if len(head) < header:
        raise DatasetError(
            f"{path}: truncated IDX file: {len(head)} bytes, shorter than the "
            f"{header}-byte header of a {ndim}-D IDX file"
        )
    magic = int.from_bytes(head[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DatasetError(
            f"{path}: wrong magic number 0x{magic:08x}; expected 0x{_IDX_MAGIC[ndim]:08x} "
            f"(unsigned bytes, {ndim}-D: {'labels' if ndim == 1 else 'images'})"
        )
    dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if 0 in dims:
        what = "zero images" if ndim == 3 and dims[0] == 0 else "zero labels" if ndim == 1 else "images of zero size"
        raise DatasetError(f"{path}: IDX file holds {what}: header says shape {dims}")
    expected = declared_bytes(dims, 1)
    check_array_bytes(
        expected * bytes_per_value,
        path,
        f"the {'×'.join(map(str, dims))} array its header declares"
        + (" (with its float features)" if bytes_per_value > 1 else ""),
    )
    if gzipped and expected > file_size * MAX_DEFLATE_RATIO:
        raise DatasetError(
            f"{path}: truncated IDX file: header says shape {dims} ({expected} bytes of data), "
            f"more than the {file_size}-byte gzip file can expand to"
        )
    if not gzipped and expected != file_size - header:
        found = file_size - header
        problem = "truncated IDX file" if found < expected else "IDX file has trailing bytes"
        raise DatasetError(
            f"{path}: {problem}: header says shape {dims} ({expected} bytes of data), found {found} bytes"
        )
    data = np.empty(expected, dtype=np.uint8)  # fills page by page as data arrives; nothing beyond it is read
    view, found = memoryview(data), 0
    while found < expected:
        got = stream.readinto(view[found : found + _CHUNK])
        if not got:
            break
        found += got
    if found < expected:
        raise DatasetError(
            f"{path}: truncated IDX file: header says shape {dims} ({expected} bytes of data), found {found} bytes"
        )
    if stream.read(1):
        raise DatasetError(
            f"{path}: IDX file has trailing bytes: header says shape {dims} ({expected} bytes of data), found more"
        )
    return data.reshape(dims)


def idx_file(folder: Path, base: str) -> Path | None:
    """``folder/base.gz`` or ``folder/base`` (whichever exists, gzipped first)."""
    for candidate in (folder / f"{base}.gz", folder / base):
        if candidate.is_file():
            return candidate
    return None


def _missing(name: str) -> Callable[[Path, str], list[str]]:
    def missing(data_dir: Path, split: str) -> list[str]:
        return [f"{base}.gz" for base in FILES[split] if idx_file(data_dir / name, base) is None]

    return missing


def _idx_loader(name: str, class_names: list[str]) -> Callable[[Path, str], Dataset]:
    def load_idx(data_dir: Path, split: str) -> Dataset:
        require_files(name, data_dir, split)
        folder = data_dir / name
        images_path, labels_path = (idx_file(folder, base) for base in FILES[split])
        images = read_idx(images_path, 3, bytes_per_value=1 + FEATURE_BYTES)
        labels = read_idx(labels_path, 1)
        if labels.shape[0] != images.shape[0]:
            raise DatasetError(
                f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in "
                f"{images_path.name}; the label count must equal the image count"
            )
        check_label_range(labels, len(class_names), labels_path)
        return Dataset(
            name=name,
            features=images_to_features(images),
            labels=labels.astype(np.int64),
            class_names=list(class_names),
            images=images,
            source=str(folder),
            split=split,
        )

    load_idx.__doc__ = f"{name} from its four IDX files in ``<data_dir>/{name}/``."
    return load_idx


CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    # the ten hiragana of Kuzushiji-MNIST, romanised with the modern glyph
    "kmnist": [
        "o (お)",
        "ki (き)",
        "su (す)",
        "tsu (つ)",
        "na (な)",
        "ha (は)",
        "ma (ま)",
        "ya (や)",
        "re (れ)",
        "wo (を)",
    ],
}
DESCRIPTIONS = {
    "mnist": "MNIST handwritten digits: 60,000 + 10,000 images of 28×28",
    "fashion-mnist": "Fashion-MNIST clothing: 60,000 + 10,000 images of 28×28, 10 classes",
    "kmnist": "Kuzushiji-MNIST cursive hiragana: 60,000 + 10,000 images of 28×28, 10 classes",
}
HOMEPAGES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "kmnist": "https://github.com/rois-codh/kmnist",
}

# Download spec: (size in bytes, SHA-256, MD5) of each canonical file.
# MD5: the checksums the datasets' authors publish (Fashion-MNIST's and KMNIST's
# READMEs) and that torchvision verifies for these same URLs.
# SHA-256: not published by the authors; taken from TensorFlow Datasets' recorded
# url_checksums (tensorflow_datasets/url_checksums/{mnist,fashion_mnist,kmnist}.txt),
# which list the same sizes. TFDS recorded MNIST's from the storage.googleapis.com
# cvdf mirror; the ossci mirror serves byte-identical files (same size and the same
# MD5 torchvision checks). Both hashes are verified, so one wrong entry fails loudly.
DOWNLOADS = {
    "mnist": Download(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": (
                9912422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            ),
            "train-labels-idx1-ubyte.gz": (
                28881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "d53e105ee54ea40749a09fcbcd1e9432",
            ),
            "t10k-images-idx3-ubyte.gz": (
                1648877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "9fb629c4189551a2d022fa330f9573f3",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                4542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                "ec29112dd5afa0611ce80d1b7f02629c",
            ),
        },
    ),
    "fashion-mnist": Download(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": (
                26421880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            ),
            "train-labels-idx1-ubyte.gz": (
                29515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "25c81989df183df01b3e8a0aad5dffbe",
            ),
            "t10k-images-idx3-ubyte.gz": (
                4422102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "bef4ecab320f06d8554ea6380940ec79",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                5148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ),
        },
    ),
    "kmnist": Download(
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        {
            "train-images-idx3-ubyte.gz": (
                18165135,
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                "bdb82020997e1d708af4cf47b453dcf7",
            ),
            "train-labels-idx1-ubyte.gz": (
                29497,
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                "e144d726b3acfaa3e44228e80efcd344",
            ),
            "t10k-images-idx3-ubyte.gz": (
                3041136,
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                "5c965bf0a639b31b8f53240b1b52f4d7",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                5120,
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                "7320c461ea6c1c855c0b718fb2a4b134",
            ),
        },
    ),
}


for _name in CLASSES:
    register(
        Entry(
            _name,
            DESCRIPTIONS[_name],
            _idx_loader(_name, CLASSES[_name]),
            _missing(_name),
            files=tuple(f"{_name}/{base}.gz" for split in ("train", "test") for base in FILES[split]),
            homepage=HOMEPAGES[_name],
            download=DOWNLOADS[_name],
            fetch_hint=f" (gzipped or not) or run `python -m models.datasets --download {_name}`",
        )
    )
