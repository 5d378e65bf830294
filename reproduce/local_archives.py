"""Archives in the real download formats, built from local copies of a dataset (machines without internet).

    python -m reproduce.local_archives mnist /work/shared/datasets/mnist.npz runs/cpu/archives/mnist-dataset.zip

mnist  an .npz of x_train (60000, 28, 28), y_train, x_test, y_test (uint8) -> mnist-dataset.zip as
       Kaggle's hojjatk/mnist-dataset ships it: train-images.idx3-ubyte, train-labels.idx1-ubyte,
       t10k-images.idx3-ubyte, t10k-labels.idx1-ubyte (uncompressed IDX). Uncompressed, because the
       published md5 sums belong to the original .gz files, which a re-compression never matches.
The archive is then prepared by the package's normal path: `ddgan data prepare mnist --archive ZIP`
(or ARCHIVE=ZIP of a reproduce target), which reads, checks and hashes it like a downloaded one.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from reproduce.smoke_data import idx_bytes, zip_folder

MNIST_ARRAYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
MNIST_PREFIX = {"train": "train", "test": "t10k"}


class LocalArchiveError(ValueError):
    """A local copy that cannot be turned into the archive asked for."""


def mnist_archive(npz_path, zip_path) -> Path:
    """Write mnist-dataset.zip (Kaggle's layout of the IDX files) from an .npz of the four arrays."""
    npz_path, zip_path = Path(npz_path), Path(zip_path)
    with np.load(npz_path) as arrays:
        missing = [key for pair in MNIST_ARRAYS.values() for key in pair if key not in arrays.files]
        if missing:
            raise LocalArchiveError(f"{npz_path} lacks {', '.join(missing)}; it needs x_train, y_train, x_test, "
                                    f"y_test as uint8 arrays (images N x 28 x 28)")
        splits = {split: (arrays[x], arrays[y]) for split, (x, y) in MNIST_ARRAYS.items()}
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mnist-", dir=zip_path.parent) as folder:
        for split, (images, labels) in splits.items():
            if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or len(labels) != len(images):
                raise LocalArchiveError(f"{npz_path}: {split} images must be uint8 N x 28 x 28 with one label "
                                        f"each; got {images.shape} {images.dtype} and {len(labels)} labels")
            prefix = MNIST_PREFIX[split]
            (Path(folder) / f"{prefix}-images.idx3-ubyte").write_bytes(idx_bytes(images))
            (Path(folder) / f"{prefix}-labels.idx1-ubyte").write_bytes(idx_bytes(labels.astype(np.uint8)))
        return zip_folder(Path(folder), zip_path)


BUILDERS = {"mnist": mnist_archive}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reproduce.local_archives", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(BUILDERS))
    parser.add_argument("source", help="the local copy (mnist: .npz of x_train, y_train, x_test, y_test)")
    parser.add_argument("archive", help="the archive to write")
    args = parser.parse_args(argv)
    try:
        print(BUILDERS[args.dataset](args.source, args.archive))
    except (LocalArchiveError, FileNotFoundError) as error:
        print(f"local_archives: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
