"""Step 1, what the files are: each dataset's name, file names and published checksums, and the errors.

Plain Python (no numpy), so the `course` command can name the datasets where numpy is not installed (the hub).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CourseDataError(Exception):
    """Base class for dataset problems a student or instructor can fix; the message says what to do."""


class DatasetNotFoundError(CourseDataError):
    """The dataset is in none of the searched places and could not be downloaded."""


class ChecksumError(CourseDataError):
    """A dataset file is truncated, corrupted or not the file it claims to be."""


class DatasetFormatError(CourseDataError):
    """A file given to the importer is not in a format the course reads."""


IDX_PARTS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset the course can load, and how to recognise and fetch its files."""

    name: str
    title: str
    class_names: tuple[str, ...]
    npz_name: str | None = None
    npz_sha256: str | None = None
    # SHA-256 of the *decompressed* IDX payloads: the same whether a copy is gzipped or not, or re-gzipped
    # by a distribution (Debian's Fashion-MNIST files are).
    idx_sha256: dict[str, str] = field(default_factory=dict)
    downloads: tuple[str, ...] = ()
    full_sizes: tuple[int, int] = (60000, 10000)

    @property
    def local_name(self) -> str:
        """The ``.npz`` that `import_data` writes for files with no published checksum (a subset, say)."""
        return f"{self.name}-local.npz"


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    class_names=tuple(str(d) for d in range(10)),
    npz_name="mnist.npz",
    npz_sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    downloads=("mnist.npz",),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST (Zalando clothing images)",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    idx_sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    downloads=tuple(f"{part}.gz" for part in IDX_PARTS.values()),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def get_spec(name: str) -> DatasetSpec:
    """The spec for a dataset name (``mnist`` or ``fashion-mnist``; ``fashion_mnist`` also accepted)."""
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")
    return DATASETS[key]


# --- pretrained weights -----------------------------------------------------------------------------------------

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS_FOLDER = "keras-applications"  # <data folder>/keras-applications/<file>, beside the datasets' folders


@dataclass(frozen=True)
class WeightsSpec:
    """Pretrained Keras Applications weights the course can stage: the file, where Keras downloads it from, and
    the checksum Keras itself verifies (``keras.utils.get_file(file_hash=...)``), where it publishes one."""

    name: str
    title: str
    filename: str
    url: str
    md5: str | None = None  # Keras' published hashes are MD5 (32 hex digits) for these files
    sha256: str | None = None

    @property
    def published(self) -> tuple[str, str] | None:
        """(algorithm, digest) of the published checksum, or None where Keras verifies none."""
        if self.sha256:
            return "sha256", self.sha256
        if self.md5:
            return "md5", self.md5
        return None


_MOBILENET_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
_MOBILENET_V3_FILE = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"

# keras/src/applications/mobilenet_v2.py (Keras 3) downloads this file with no file_hash: Keras verifies nothing,
# so no checksum is published. The first fetch records the file's SHA-256 in the folder's MANIFEST.json (every
# later read is checked against it); compare it with a trusted copy, or pass one with `--sha256`.
MOBILENET_V2_035_96 = WeightsSpec(
    name="mobilenet_v2_0.35_96",
    title="MobileNetV2, alpha 0.35, 96x96, without top (ImageNet)",
    filename=_MOBILENET_V2_FILE,
    url=f"{KERAS_APPLICATIONS_URL}mobilenet_v2/{_MOBILENET_V2_FILE}",
)

# keras/src/applications/mobilenet_v3.py: WEIGHTS_HASHES["small_224_1.0_float"][1], the no-top file's MD5.
MOBILENET_V3_SMALL = WeightsSpec(
    name="mobilenet_v3_small_1.0_224",
    title="MobileNetV3Small, alpha 1.0, 224x224, without top (ImageNet)",
    filename=_MOBILENET_V3_FILE,
    url=f"{KERAS_APPLICATIONS_URL}mobilenet_v3/{_MOBILENET_V3_FILE}",
    md5="d3e8ec802a04aa4fc771ee12a9a9b836",
)

WEIGHTS: dict[str, WeightsSpec] = {spec.name: spec for spec in (MOBILENET_V2_035_96, MOBILENET_V3_SMALL)}


def get_weights_spec(name: str) -> WeightsSpec:
    """The spec for a weights name (``mobilenet_v2_0.35_96``, ...), or its file name."""
    key = name.strip()
    for spec in WEIGHTS.values():
        if key in (spec.name, spec.filename):
            return spec
    raise ValueError(f"unknown weights {name!r}: use one of {', '.join(WEIGHTS)}")
