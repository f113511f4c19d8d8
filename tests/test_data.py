"""Finding, checking and loading Fashion-MNIST, with IDX files the tests write."""

import re
import shutil

import pytest
import torch
from conftest import write_dataset, write_idx

from vggbench.measure import data
from vggbench.measure.data import FILES, IMAGE_MAGIC, LABEL_MAGIC, DataError


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Point the user cache and Debian's folder into tmp_path, and record download attempts."""
    monkeypatch.delenv(data.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_ROOT", tmp_path / "debian")
    downloads = []

    def offline(root):
        downloads.append(root)
        return None

    monkeypatch.setattr(data, "_download", offline)
    return tmp_path, downloads


def _copy(source, target):
    shutil.copytree(source, target)
    return target


def test_explicit_root_comes_first_and_takes_torchvision_layout(places, synthetic_root, monkeypatch):
    tmp_path, downloads = places
    explicit = _copy(synthetic_root, tmp_path / "mine" / "FashionMNIST" / "raw")
    _copy(synthetic_root, tmp_path / "debian")
    found = data.locate(tmp_path / "mine")
    assert found["train_images"] == explicit / FILES["train_images"]
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(tmp_path / "mine"))
    assert data.locate()["test_labels"].parent == explicit
    assert downloads == []


def test_explicit_root_without_files_is_an_error_not_a_fallback(places, synthetic_root, monkeypatch):
    tmp_path, downloads = places
    _copy(synthetic_root, tmp_path / "debian")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"--data-root=.*empty does not hold Fashion-MNIST: expected train-images"):
        data.locate(tmp_path / "empty")
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(tmp_path / "empty"))
    with pytest.raises(DataError, match=r"VGGBENCH_DATA=.*empty does not hold Fashion-MNIST"):
        data.locate()
    assert downloads == []


def test_user_cache_comes_before_debian_and_download(places, synthetic_root):
    tmp_path, downloads = places
    cached = _copy(synthetic_root, tmp_path / "cache" / "vggbench" / "FashionMNIST" / "raw")
    _copy(synthetic_root, tmp_path / "debian")
    assert data.locate()["train_labels"].parent == cached
    assert downloads == []


def test_debian_comes_before_download_and_gzip_is_read(places):
    tmp_path, downloads = places
    write_dataset(tmp_path / "debian", compress=True)
    found = data.locate()
    assert found["train_images"].name == FILES["train_images"] + ".gz"
    loaded = data.load()
    assert loaded.train_images.shape == (60_000, 28, 28) and loaded.train_images.dtype == torch.uint8
    assert loaded.test_labels.shape == (10_000,) and int(loaded.test_labels.max()) <= 9
    assert downloads == []


def test_download_is_last_and_failure_names_three_fixes(places):
    tmp_path, downloads = places
    with pytest.raises(DataError) as error:
        data.locate()
    assert downloads == [tmp_path / "cache" / "vggbench"]
    message = str(error.value)
    assert "--data-root" in message and "apt-get install dataset-fashion-mnist" in message
    assert "torchvision can download" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "corrupt", "expected"),
    [
        ("train_images", lambda raw: raw[:1000], "is truncated or padded"),
        ("train_images", lambda raw: raw[:10], "is truncated: 10 bytes"),
        ("test_labels", lambda raw: (1234).to_bytes(4, "big") + raw[4:], "magic number 1234, expected 2049"),
        ("test_images", lambda raw: raw[:4] + (9999).to_bytes(4, "big") + raw[8:], "shape (9999, 28, 28)"),
        ("train_labels", lambda raw: raw[:-1] + bytes([10]), "has label 10: labels must be 0-9"),
    ],
)
def test_corrupt_file_is_named(places, synthetic_root, name, corrupt, expected):
    tmp_path, _ = places
    root = _copy(synthetic_root, tmp_path / "bad")
    path = root / FILES[name]
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError) as error:
        data.load(root)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_bad_gzip_is_named(places, synthetic_root):
    tmp_path, _ = places
    root = _copy(synthetic_root, tmp_path / "bad")
    gz = root / (FILES["test_labels"] + ".gz")
    (root / FILES["test_labels"]).rename(gz)  # not gzip inside
    with pytest.raises(DataError, match=re.escape(f"{gz} cannot be read")):
        data.load(root)


def test_idx_writer_round_trip(tmp_path):
    images = torch.randint(0, 256, (60_000, 28, 28), dtype=torch.uint8)
    path = write_idx(tmp_path / "images", IMAGE_MAGIC, images)
    assert torch.equal(data.read_idx(path, IMAGE_MAGIC, 60_000, (28, 28)), images)
    labels = torch.arange(10, dtype=torch.uint8)
    path = write_idx(tmp_path / "labels", LABEL_MAGIC, labels, compress=True)
    assert torch.equal(data.read_idx(path, LABEL_MAGIC, 10, ()), labels)


def test_prepare_scales_resizes_and_normalizes():
    images = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    images[1] = 0
    batch = data.prepare(images, 32)
    assert batch.shape == (2, 1, 32, 32) and batch.dtype == torch.float32
    assert torch.allclose(batch[0], torch.ones(1, 32, 32)) and torch.all(batch[1] == 0)
    assert torch.allclose(data.prepare(images, 28, 0.5, 0.5)[0], torch.ones(1, 28, 28))


@pytest.mark.data
@pytest.mark.skipif(
    data.files_in(data.DEBIAN_ROOT) is None,
    reason=f"the real data set is not in {data.DEBIAN_ROOT} (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_loads_and_is_balanced():
    real = data.load(data.DEBIAN_ROOT, download=False)
    assert torch.equal(torch.bincount(real.train_labels), torch.full((10,), 6000))
    assert torch.equal(torch.bincount(real.test_labels), torch.full((10,), 1000))
    assert 0.25 < real.train_images.float().mean().item() / 255 < 0.32  # Fashion-MNIST's mean pixel is about 0.286
