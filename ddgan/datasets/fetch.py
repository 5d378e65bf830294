"""Fetching archives: Kaggle datasets through the `kaggle` package, LSUN from its official URL.

Both write into `<root>/downloads/` through a temporary name and rename on success, so an
interrupted download is never taken for a complete archive.
"""

from __future__ import annotations

import http.client
import importlib
import io
import json
import os
import shutil
import tempfile
from contextlib import redirect_stdout
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tqdm.auto import tqdm

from .errors import DownloadError, MissingCredentialsError
from .specs import DatasetSpec


def downloads_dir(root: Path) -> Path:
    return root / "downloads"


def manual_fix(spec: DatasetSpec) -> str:
    """How to supply the archive by hand, for error messages."""
    where = (f"https://www.kaggle.com/datasets/{spec.location}" if spec.source == "kaggle" else spec.location)
    return (f"Or download {where} yourself and run: ddgan data prepare {spec.name} --archive "
            f"PATH/{spec.archive_name}   (expected: {spec.layout}).")


def download_archive(spec: DatasetSpec, root: Path) -> Path:
    """Download the archive of `spec` into <root>/downloads/<archive_name> and return its path."""
    if spec.source not in ("kaggle", "url"):
        raise DownloadError(f"{spec.name} is not downloaded: it is built from {spec.location!r}")
    target = downloads_dir(root) / spec.archive_name
    created = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return (_download_kaggle if spec.source == "kaggle" else _download_url)(spec, target)
    except BaseException:
        for folder in created:       # a failed download leaves no empty folders behind (innermost first)
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise


# --- Kaggle -------------------------------------------------------------------------------

def kaggle_credentials_source() -> str | None:
    """Where the kaggle package (2.x) would find credentials, or None; checked without importing it.

    kaggle authenticates when imported, prints its help and swallows the failure when it finds
    nothing, and may contact the server to check a token; hence this look first.
    """
    env = os.environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME/KAGGLE_KEY"
    if env.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    home = Path.home()
    config_dirs = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else [
        home / ".kaggle", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    for config_dir in config_dirs:
        config = config_dir / "kaggle.json"
        try:
            values = json.loads(config.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(values, dict) and values.get("username") and values.get("key"):
            return str(config)
    for token_file in (home / ".kaggle" / "access_token", home / ".kaggle" / "access_token.txt",
                       home / ".kaggle" / "credentials.json"):
        if token_file.is_file():
            return str(token_file)
    return None


def _credentials_help(spec: DatasetSpec) -> str:
    return (
        "Create an API token at https://www.kaggle.com/settings/api, then either export "
        "KAGGLE_USERNAME and KAGGLE_KEY, or save the downloaded kaggle.json as ~/.kaggle/kaggle.json "
        "(chmod 600), or export KAGGLE_API_TOKEN. " + manual_fix(spec)
    )


def _import_kaggle_api(spec: DatasetSpec):
    chatter = io.StringIO()  # kaggle prints its own help on import when authentication fails
    try:
        with redirect_stdout(chatter):
            kaggle = importlib.import_module("kaggle")
    except Exception as error:  # any import-time failure (missing six, broken install, network)
        raise DownloadError(
            f"cannot import the kaggle package ({type(error).__name__}: {error}). Install it with "
            "`pip install 'kaggle>=1.6' six`. " + manual_fix(spec)
        ) from error
    api = kaggle.api
    try:
        with redirect_stdout(chatter):
            api.authenticate()
    except SystemExit:
        raise MissingCredentialsError("Kaggle found no usable credentials. " + _credentials_help(spec)) from None
    except Exception as error:
        raise DownloadError(f"Kaggle authentication failed ({type(error).__name__}: {error}); check the "
                            "network and your token. " + manual_fix(spec)) from error
    return api


def _download_kaggle(spec: DatasetSpec, target: Path) -> Path:
    source = kaggle_credentials_source()
    if source is None:
        raise MissingCredentialsError(
            f"no Kaggle credentials found to download {spec.name} (Kaggle dataset {spec.location}). "
            + _credentials_help(spec)
        )
    api = _import_kaggle_api(spec)
    partial = Path(tempfile.mkdtemp(prefix=".kaggle-partial-", dir=target.parent))
    try:
        try:
            api.dataset_download_files(spec.location, path=str(partial), force=True, quiet=False, unzip=False)
        except Exception as error:
            raise DownloadError(_kaggle_failure(spec, source, error)) from error
        produced = partial / (spec.location.split("/")[-1] + ".zip")
        if not produced.is_file():
            raise DownloadError(
                f"Kaggle reported success but {produced.name} was not written "
                f"(found {sorted(p.name for p in partial.iterdir())}). " + manual_fix(spec)
            )
        os.replace(produced, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _kaggle_failure(spec: DatasetSpec, source: str, error: Exception) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    what = f"{type(error).__name__}: {error}"
    if status in (401, 403):
        reason = (f"Kaggle refused the credentials from {source} (HTTP {status}) for {spec.location}; check "
                  "the key, and accept the dataset's terms on its Kaggle page if it asks.")
    elif status == 404:
        reason = f"Kaggle has no dataset {spec.location} (HTTP 404)."
    elif isinstance(error, OSError):
        reason = f"could not reach Kaggle to download {spec.location} ({what}); is there network access?"
    else:
        reason = f"the Kaggle download of {spec.location} failed ({what})."
    return reason + " " + manual_fix(spec)


# --- Plain URL (LSUN) -----------------------------------------------------------------------

def _download_url(spec: DatasetSpec, target: Path) -> Path:
    partial = target.with_name(target.name + ".partial")
    try:
        with urlopen(spec.location, timeout=60) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            written = 0
            with tqdm(total=total, desc=f"download {spec.archive_name}", unit="B", unit_scale=True) as bar:
                while chunk := response.read(8 << 20):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        if total is not None and written != total:
            raise DownloadError(f"the download of {spec.location} stopped after {written} of {total} bytes; "
                                "run the command again. " + manual_fix(spec))
        os.replace(partial, target)
    except (URLError, OSError, http.client.HTTPException) as error:
        raise DownloadError(
            f"could not download {spec.location} ({type(error).__name__}: {error}); is there network "
            "access? " + manual_fix(spec)
        ) from error
    finally:
        partial.unlink(missing_ok=True)
    return target
