"""LSUN scenes from the official LMDB (one entry per image: key = image id, value = WebP/JPEG bytes)."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np

from .archives import ArchiveTree
from .errors import ArchiveError
from .images import batched, decode_resized, decode_stream
from .specs import DatasetSpec
from .splits import SplitSource


def read_lsun_lmdb(tree: ArchiveTree, spec: DatasetSpec, workdir: Path, *, folder: str,
                   workers: int = 1) -> dict[str, SplitSource]:
    """The first `expected_counts['train']` images in cursor order, resized and center-cropped.

    The official loader lists keys with `[key for key, _ in txn.cursor()]`: LMDB's cursor visits
    keys sorted bytewise, so "first N" means the N smallest keys. We walk the cursor the same way.
    """
    import lmdb  # imported here so the other datasets work without it

    found = tree.find(["data.mdb"], under=folder) or tree.find(["data.mdb"])
    if not found:
        raise ArchiveError(f"{tree.path} holds no data.mdb. Expected {spec.layout}.")
    lmdb_dir = tree.local_path(found[0], workdir).parent
    data_file = lmdb_dir / "data.mdb"
    try:
        env = lmdb.open(str(lmdb_dir), readonly=True, lock=False, readahead=False, meminit=False,
                        max_readers=1)
    except lmdb.Error as error:
        raise ArchiveError(f"{data_file} is not a readable LMDB ({error}); download the archive again") from error
    stat, info = env.stat(), env.info()
    # A truncated data.mdb opens fine but would crash (SIGBUS) when a missing page is touched.
    needed = (info["last_pgno"] + 1) * stat["psize"]
    if data_file.stat().st_size < needed:
        env.close()
        raise ArchiveError(
            f"{data_file} is truncated ({data_file.stat().st_size} bytes, its pages need {needed}). "
            "Download church_outdoor_train_lmdb.zip again or pass a complete copy with --archive."
        )
    entries = stat["entries"]
    take = spec.expected_counts["train"]
    if spec.source_count is not None and entries != spec.source_count:
        env.close()
        raise ArchiveError(
            f"{data_file} holds {entries} images, expected {spec.source_count} for {spec.name}; "
            "the archive is incomplete or a different LSUN category."
        )
    if entries < take:
        env.close()
        raise ArchiveError(f"{data_file} holds {entries} images, fewer than the {take} to be prepared")

    size = spec.image_shape[0]
    details = {"lmdb_entries": entries, "order": "LMDB cursor order (keys sorted bytewise), first N",
               "member": found[0], "resize": f"shorter side to {size}, PIL bilinear (antialiased)",
               "crop": f"center {size}x{size}"}

    def encoded_items() -> Iterator[tuple[str, bytes]]:
        keys = hashlib.sha256()  # of the used keys, each followed by a newline
        try:
            with env.begin(write=False) as txn:
                for index, (key, value) in enumerate(txn.cursor()):
                    if index == take:
                        break
                    keys.update(key + b"\n")
                    name = key.decode(errors="replace")
                    details.setdefault("first_key", name)
                    details["last_key"] = name
                    yield f"{data_file}[{name}]", value
        finally:
            env.close()
        details["keys_sha256"] = keys.hexdigest()

    def batches() -> Iterator[np.ndarray]:
        decode = partial(decode_resized, size=size)
        for chunk in batched(decode_stream(encoded_items(), decode, workers)):
            yield np.stack(chunk)

    return {"train": SplitSource(take, spec.image_shape, None, batches, details)}


def default_folder(spec: DatasetSpec) -> str:
    """church_outdoor_train_lmdb for church_outdoor_train_lmdb.zip."""
    return PurePosixPath(spec.archive_name).stem
