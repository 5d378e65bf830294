"""Downloads without the network: credentials checks, a mocked kaggle package, a mocked LSUN server."""

import io
import json
import sys
import types
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from tests.conftest import FIXTURES

sys.path.insert(0, str(FIXTURES / "datasets"))
from archive_builders import clear_kaggle_environment, make_zip, write_lsun_lmdb, write_mnist_idx  # noqa: E402

from ddgan.datasets import (ArchiveError, DownloadError, MissingCredentialsError, download,  # noqa: E402
                            open_prepared, prepare)
from ddgan.datasets import fetch as fetch_module  # noqa: E402
from ddgan.datasets.fetch import kaggle_credentials_source  # noqa: E402

MNIST_SMALL = {"expected_counts": {"train": 12, "test": 5}}


class FakeKaggleApi:
    """Stands in for kaggle.api: records requests and 'downloads' a prepared zip."""

    def __init__(self, zip_bytes=b"", error=None, auth_exit=False):
        self.zip_bytes, self.error, self.auth_exit = zip_bytes, error, auth_exit
        self.calls = []

    def authenticate(self):
        print("kaggle chatter that must not reach the user")
        if self.auth_exit:
            raise SystemExit(1)

    def dataset_download_files(self, dataset, path=None, force=False, quiet=True, unzip=False):
        self.calls.append({"dataset": dataset, "path": path, "unzip": unzip})
        if self.error is not None:
            raise self.error
        (Path(path) / (dataset.split("/")[1] + ".zip")).write_bytes(self.zip_bytes)


@pytest.fixture
def kaggle_user(monkeypatch, tmp_path):
    clear_kaggle_environment(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")


def install_fake_kaggle(monkeypatch, api):
    module = types.ModuleType("kaggle")
    module.api = api
    monkeypatch.setitem(sys.modules, "kaggle", module)


def mnist_zip_bytes(tmp_path):
    expected = write_mnist_idx(tmp_path / "kaggle_src")
    return make_zip(tmp_path / "kaggle_src", tmp_path / "built.zip").read_bytes(), expected


def test_no_credentials_names_every_way_to_supply_them(monkeypatch, tmp_path, capsys):
    clear_kaggle_environment(monkeypatch, tmp_path / "home")
    monkeypatch.setitem(sys.modules, "kaggle", None)  # importing kaggle would now fail loudly
    with pytest.raises(MissingCredentialsError) as raised:
        prepare("cifar10", tmp_path / "data", progress=False)
    message = str(raised.value)
    for needed in ("pankrzysiu/cifar10-python", "KAGGLE_USERNAME", "KAGGLE_KEY", "~/.kaggle/kaggle.json",
                   "--archive PATH/cifar10-python.zip", "cifar-10-batches-py"):
        assert needed in message
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "data" / "downloads").exists()       # no empty folder left behind


def test_credentials_are_found_where_kaggle_looks(monkeypatch, tmp_path):
    home = tmp_path / "home"
    clear_kaggle_environment(monkeypatch, home)
    assert kaggle_credentials_source() is None
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "u"}))
    assert kaggle_credentials_source() is None  # a key is needed too
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "u", "key": "k"}))
    assert kaggle_credentials_source() == str(home / ".kaggle" / "kaggle.json")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert kaggle_credentials_source() is None
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    assert kaggle_credentials_source() == "KAGGLE_API_TOKEN"


def test_kaggle_download_requests_the_right_slug_and_prepares(monkeypatch, tmp_path, kaggle_user, capsys):
    zip_bytes, expected = mnist_zip_bytes(tmp_path)
    api = FakeKaggleApi(zip_bytes)
    install_fake_kaggle(monkeypatch, api)
    root = tmp_path / "data"
    prepare("mnist", root, progress=False, **MNIST_SMALL)
    assert [call["dataset"] for call in api.calls] == ["hojjatk/mnist-dataset"]
    assert Path(api.calls[0]["path"]).parent == root / "downloads" and api.calls[0]["unzip"] is False
    assert (root / "downloads" / "mnist-dataset.zip").read_bytes() == zip_bytes
    assert sorted(p.name for p in (root / "downloads").iterdir()) == ["mnist-dataset.zip"]
    np.testing.assert_array_equal(open_prepared("mnist", root, "test").images, expected["test"][0])
    assert "chatter" not in capsys.readouterr().out
    # A second preparation reuses the downloaded archive.
    prepare("mnist", root, force=True, progress=False, **MNIST_SMALL)
    assert len(api.calls) == 1
    assert download("stackedmnist", root) == root / "downloads" / "mnist-dataset.zip"


def http_error(status: int) -> OSError:
    """Like requests.HTTPError (an OSError) with its response attached."""
    error = OSError(f"{status} Client Error")
    error.response = types.SimpleNamespace(status_code=status)
    return error


@pytest.mark.parametrize("error,expected", [
    (OSError("Failed to resolve 'api.kaggle.com'"), "could not reach Kaggle"),
    (http_error(403), "refused the credentials from KAGGLE_USERNAME/KAGGLE_KEY"),
    (http_error(404), "has no dataset badasstechie/celebahq-resized-256x256"),
])
def test_kaggle_failures_become_clear_errors(monkeypatch, tmp_path, kaggle_user, error, expected):
    install_fake_kaggle(monkeypatch, FakeKaggleApi(error=error))
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=expected) as raised:
        prepare("celeba_256", root, progress=False)
    assert "--archive PATH/celebahq-resized-256x256.zip" in str(raised.value)
    assert not (root / "downloads").exists()
    assert not (root / "celeba_256").exists()


def test_kaggle_import_and_authentication_failures(monkeypatch, tmp_path, kaggle_user):
    monkeypatch.setitem(sys.modules, "kaggle", None)
    with pytest.raises(DownloadError, match="cannot import the kaggle package.*pip install"):
        download("mnist", tmp_path / "data")
    install_fake_kaggle(monkeypatch, FakeKaggleApi(auth_exit=True))
    with pytest.raises(MissingCredentialsError, match="Kaggle found no usable credentials"):
        download("mnist", tmp_path / "data")


def test_no_archive_and_no_download(tmp_path):
    with pytest.raises(ArchiveError, match="downloading is off.*--archive PATH/mnist-dataset.zip"):
        prepare("mnist", tmp_path / "data", download=False, progress=False)


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, length: int):
        super().__init__(body)
        self.headers = {"Content-Length": str(length)}


def test_lsun_download_from_the_official_url(monkeypatch, tmp_path):
    entries = write_lsun_lmdb(tmp_path / "src" / "church_outdoor_train_lmdb", count=5)
    body = make_zip(tmp_path / "src", tmp_path / "built.zip").read_bytes()
    requested = []

    def fake_urlopen(url, timeout):
        requested.append(url)
        return FakeResponse(body, len(body))

    monkeypatch.setattr(fetch_module, "urlopen", fake_urlopen)
    root = tmp_path / "data"
    prepare("lsun_church", root, progress=False, expected_counts={"train": 3}, source_count=5)
    assert requested == ["http://dl.yf.io/lsun/scenes/church_outdoor_train_lmdb.zip"]
    assert (root / "downloads" / "church_outdoor_train_lmdb.zip").read_bytes() == body
    assert open_prepared("lsun_church", root).manifest["splits"]["train"]["details"]["first_key"] == \
        sorted(entries)[0].decode()


def test_lsun_download_failures_leave_no_partial_file(monkeypatch, tmp_path):
    def offline(url, timeout):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(fetch_module, "urlopen", offline)
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"could not download http://dl\.yf\.io/.*network.*--archive"):
        prepare("lsun_church", root, progress=False)
    monkeypatch.setattr(fetch_module, "urlopen", lambda url, timeout: FakeResponse(b"PK\x03\x04", 1000))
    with pytest.raises(DownloadError, match="stopped after 4 of 1000 bytes"):
        download("lsun_church", root)
    assert not (root / "downloads").exists()
