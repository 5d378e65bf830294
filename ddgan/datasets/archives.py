"""Read a downloaded dataset the same way whether it is a zip, a tar(.gz) or an extracted folder.

Zip members are read in place. A tar is extracted once into a work folder first, because
random access into a compressed tar re-reads it from the start for every member.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable

from tqdm.auto import tqdm

from ddgan.base.provenance import file_sha256

from .errors import ArchiveError

_CHUNK = 8 << 20
# Errors that mean "the bytes on disk are not a complete archive".
_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError)


def corrupt_archive_error(path: Path | str, error: BaseException) -> ArchiveError:
    return ArchiveError(
        f"{path} is truncated or corrupt ({type(error).__name__}: {error}). Delete it and download "
        "it again, or pass a complete copy with --archive PATH."
    )


class ArchiveTree:
    """The regular files of an archive or folder, by POSIX path relative to its top."""

    def __init__(self, path: Path, root: Path | None = None, zip_file: zipfile.ZipFile | None = None):
        self.path = path
        self._root = root
        self._zip = zip_file
        if zip_file is not None:
            names = (info.filename for info in zip_file.infolist() if not info.is_dir())
        else:
            names = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        self.names = sorted(name for name in names if not _is_macos_metadata(name))

    def open(self, name: str) -> BinaryIO:
        if self._zip is not None:
            return self._zip.open(name)
        return (self._root / name).open("rb")

    def read(self, name: str) -> bytes:
        try:
            with self.open(name) as f:
                return f.read()
        except _CORRUPT as error:
            raise ArchiveError(
                f"cannot read {name!r} from {self.path} ({type(error).__name__}: {error}); the archive is "
                "truncated or corrupt. Delete it and download it again, or pass a complete copy with --archive."
            ) from error

    def local_path(self, name: str, workdir: Path) -> Path:
        """A real file for member `name` (the file itself for a folder, a copy in `workdir` for a zip)."""
        if self._zip is None:
            return self._root / name
        target = workdir / PurePosixPath(name).name
        size = self._zip.getinfo(name).file_size
        try:
            with self.open(name) as src, target.open("wb") as dst, _bytes_bar(size, f"extract {name}") as bar:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    bar.update(len(chunk))
        except _CORRUPT as error:
            raise corrupt_archive_error(self.path, error) from error
        return target

    def find(self, base_names: Iterable[str], under: str | None = None) -> list[str]:
        """Members whose base name is one of `base_names` (in that order of preference)."""
        found = []
        for base in base_names:
            for name in self.names:
                parts = PurePosixPath(name).parts
                if parts[-1] == base and (under is None or under in parts[:-1]):
                    found.append(name)
        return found

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "ArchiveTree":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_macos_metadata(name: str) -> bool:
    """__MACOSX/ folders and ._ files that macOS adds to archives it creates; never dataset files."""
    parts = PurePosixPath(name).parts
    return parts[0] == "__MACOSX" or parts[-1].startswith("._")


def open_archive(path: Path | str, workdir: Path) -> ArchiveTree:
    """Open a zip, a tar (any compression) or a folder; `workdir` receives a tar's extraction."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ArchiveError(f"archive {path} does not exist; check the path given with --archive")
    if path.is_dir():
        return ArchiveTree(path, root=path)
    if zipfile.is_zipfile(path):
        try:
            return ArchiveTree(path, zip_file=zipfile.ZipFile(path))
        except _CORRUPT as error:
            raise corrupt_archive_error(path, error) from error
    if _starts_with(path, b"PK\x03\x04"):  # zip entries, but the central directory at the end is gone
        raise corrupt_archive_error(path, zipfile.BadZipFile("zip data without its closing directory"))
    if _looks_like_tar(path):
        return ArchiveTree(path, root=extract_tar(path, workdir / "extracted"))
    raise ArchiveError(
        f"{path} is neither a zip, a tar(.gz) nor a folder (or it is truncated so badly that its "
        "format cannot be recognised). Pass the archive as downloaded, or its extracted folder."
    )


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as f:
        return f.read(len(magic)) == magic


def _looks_like_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except _CORRUPT:
        return False


def extract_tar(path: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
            for member in tqdm(members, desc=f"extract {path.name}", unit="file", leave=False):
                _check_member_path(member, path)
                if member.isfile() or member.isdir():
                    tar.extract(member, destination, **_tar_filter())
    except ArchiveError:
        raise
    except _CORRUPT as error:
        raise corrupt_archive_error(path, error) from error
    return destination


def _tar_filter() -> dict:
    # The "data" filter refuses links out of the tree and device files (Python >= 3.10.12 / 3.11.4).
    return {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _check_member_path(member: tarfile.TarInfo, path: Path) -> None:
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts:
        raise ArchiveError(f"{path} holds an unsafe member path {member.name!r}; refusing to extract it")


def file_digest(path: Path, progress: bool = True) -> str:
    """Hex sha256 of a file, with a progress bar for large files."""
    with _bytes_bar(path.stat().st_size, f"sha256 {path.name}", progress) as bar:
        return file_sha256(path, _CHUNK, bar.update)


def member_digest(tree: ArchiveTree, name: str, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    try:
        with tree.open(name) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except _CORRUPT as error:
        raise corrupt_archive_error(tree.path, error) from error
    return digest.hexdigest()


def archive_sha256(path: Path, progress: bool = True) -> dict:
    """sha256 of an archive file, or of a folder's sorted "sha256  relative/path" lines."""
    if path.is_file():
        return {"sha256": file_digest(path, progress=progress), "of": "archive file"}
    lines = []
    # LMDB rewrites lock.mdb whenever the folder is opened with locking, so it is no part of the data.
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "lock.mdb"
                   and not _is_macos_metadata(p.relative_to(path).as_posix()))
    for p in tqdm(files, desc=f"sha256 {path.name}/", unit="file", disable=not progress or len(files) < 100):
        lines.append(f"{file_digest(p, progress=False)}  {p.relative_to(path).as_posix()}\n")
    return {
        "sha256": hashlib.sha256("".join(lines).encode()).hexdigest(),
        "of": "folder: sha256 of the sorted lines '<file sha256>  <relative path>'",
    }


def check_member_md5(tree: ArchiveTree, name: str, known: dict | None) -> str | None:
    """Compare a member with its published md5 when one is known; returns the md5 checked."""
    expected = (known or {}).get(PurePosixPath(name).name)
    if expected is None:
        return None
    observed = member_digest(tree, name, "md5")
    if observed != expected:
        raise ArchiveError(
            f"{name} in {tree.path} has md5 {observed}, but the published md5 is {expected}: the file is "
            "corrupt or not the original. Download the dataset again or pass a correct copy with --archive."
        )
    return observed


def _bytes_bar(total: int, desc: str, enabled: bool = True):
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
                disable=not enabled or total < (256 << 20))
