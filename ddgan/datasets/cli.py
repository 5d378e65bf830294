"""`ddgan data download|prepare|verify|list`: argument parsing and dispatch.

Wire into the main CLI with `add_data_arguments(subparsers)` and, for `args.command == "data"`,
`return run_data(args)`. `python -m ddgan.datasets ...` runs the same commands on their own.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import DatasetError
from .folder import prepare_folder
from .prepare import check_archive, download, prepare
from .specs import DATASETS
from .storage import data_root, read_manifest, verify_prepared

_COMMANDS = ("download", "prepare", "verify", "list")
FOLDER = "folder"          # `prepare folder PATH`: your own images (ddgan.datasets.folder)


def add_data_arguments(parent) -> argparse.ArgumentParser:
    """Add the `data` commands to a subparsers action (as `data`) or directly to a parser."""
    if isinstance(parent, argparse._SubParsersAction):
        parser = parent.add_parser("data", help="download, prepare, verify and list datasets",
                                   description="Download, verify and prepare the datasets of the paper.")
    else:
        parser = parent
    commands = parser.add_subparsers(dest="data_command", metavar="{" + ",".join(_COMMANDS) + "}")
    commands.required = True
    names = sorted(DATASETS)

    def command(name: str, help_text: str, with_name: bool = True, extra_names=()) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if with_name:
            choices = names + list(extra_names)
            sub.add_argument("name", choices=choices, metavar="NAME", help=f"one of {', '.join(choices)}")
        sub.add_argument("--root", default=None,
                         help="prepared-data folder (default: $DDGAN_DATA, else ./data)")
        return sub

    command("download", "Fetch a dataset's archive into ROOT/downloads/ (Kaggle or the LSUN site).")
    prepare_parser = command("prepare", "Download (or import --archive), verify and prepare a dataset once; "
                                        "`prepare folder PATH --name NAME --size S` prepares your own images "
                                        "(a folder, .npy or .npz).", extra_names=[FOLDER])
    prepare_parser.add_argument("path", nargs="?", default=None,
                                help="folder: your images (a folder of .png/.jpg/.webp/.bmp files, an .npy or .npz)")
    prepare_parser.add_argument("--name", dest="dataset_name", default=None,
                                help="folder: the name to prepare your images under (then data.dataset=NAME)")
    prepare_parser.add_argument("--size", type=int, default=None,
                                help="folder: output SIZE x SIZE; other sizes: shorter side to SIZE (bilinear), "
                                     "then center crop")
    prepare_parser.add_argument("--key", default=None, help="folder: the array of an .npz holding the images")
    prepare_parser.add_argument("--archive", default=None,
                                help="an already downloaded archive (zip / tar.gz) or extracted folder")
    prepare_parser.add_argument("--no-download", action="store_true",
                                help="fail instead of downloading when no archive is available")
    prepare_parser.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prepare_parser.add_argument("--skip-unreadable", action="store_true",
                                help="folder: leave out image files that cannot be decoded (listed in the manifest)")
    prepare_parser.add_argument("--seed", type=int, default=0, help="StackedMNIST permutation seed (default 0)")
    verify_parser = command("verify", "Re-hash a prepared dataset against its manifest, or with --archive "
                                      "read and decode an archive completely without writing anything.")
    verify_parser.add_argument("--archive", default=None, help="check this archive instead of the prepared copy")
    for sub in (prepare_parser, verify_parser):
        sub.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 1) - 1)),
                         help="processes decoding JPEG/WebP images (default: CPUs - 1, at most 8)")
        sub.add_argument("--allow-resize", action="store_true",
                         help="CelebA-HQ: resize images that are not 256x256 instead of failing")
    command("list", "List the datasets and whether they are prepared under ROOT.", with_name=False)
    return parser


def run_data(args: argparse.Namespace) -> int:
    """Run a parsed `data` command; expected failures print one message and return 1."""
    try:
        if args.data_command == "list":
            _list(data_root(args.root))
        elif args.data_command == "download":
            print(download(args.name, args.root))
        elif args.data_command == "prepare" and args.name == FOLDER:
            _prepare_folder(args)
        elif args.data_command == "prepare":
            if args.path is not None or args.dataset_name is not None or args.size is not None:
                raise DatasetError(f"PATH, --name and --size belong to `prepare folder`; {args.name} is prepared "
                                   "from its archive (--archive PATH)")
            target = prepare(args.name, args.root, archive=args.archive, download=not args.no_download,
                             force=args.force, workers=args.workers, seed=args.seed,
                             allow_resize=args.allow_resize)
            _summarize(args.name, data_root(args.root), f"prepared in {target}")
        elif args.data_command == "verify":
            _verify(args)
        return 0
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _prepare_folder(args: argparse.Namespace) -> None:
    if args.path is None or args.dataset_name is None or args.size is None:
        raise DatasetError("prepare folder needs PATH, --name and --size: ddgan data prepare folder PATH --name NAME --size SIZE")
    target = prepare_folder(args.path, args.dataset_name, args.size, args.root, key=args.key, force=args.force,
                            skip_unreadable=args.skip_unreadable)
    _summarize(args.dataset_name, target.parent, f"prepared in {target}")
    counts = read_manifest(args.dataset_name, target.parent).get("counts")
    if counts:
        skipped = read_manifest(args.dataset_name, target.parent)["source"].get("skipped_files", [])
        print(f"  {counts['resized']} of {counts['images']} resized to {args.size}x{args.size} ({counts['cropped']} of "
              f"them cropped, not square); {counts['skipped']} unreadable file(s) skipped"
              + (f": {', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''}" if skipped else ""))


def _verify(args: argparse.Namespace) -> None:
    if args.archive is not None:
        counts = check_archive(args.name, args.archive, args.root, workers=args.workers,
                               allow_resize=args.allow_resize)
        print(f"{args.archive}: readable, " + ", ".join(f"{n} {split} images" for split, n in counts.items()))
        return
    verify_prepared(args.name, args.root)
    _summarize(args.name, data_root(args.root), "verified: every file matches its manifest sha256")


def _summarize(name: str, root, headline: str) -> None:
    manifest = read_manifest(name, root)
    print(f"{name}: {headline}")
    for split, entry in manifest["splits"].items():
        labels = ", labels" if entry.get("labels_sha256") else ""
        print(f"  {split}: {entry['count']} images of {tuple(entry['shape'][1:])} uint8{labels}")
    if not manifest.get("full_size", True):
        print(f"  note: a reduced copy ({manifest['spec_overrides']}), not the full dataset")


def _list(root) -> None:
    print(f"datasets (root {root}):")
    for name, spec in DATASETS.items():
        try:
            manifest = read_manifest(name, root)
            counts = ", ".join(f"{s} {e['count']}" for s, e in manifest["splits"].items())
            state = f"prepared ({counts})"
        except DatasetError:
            cached = root / "downloads" / spec.archive_name
            state = "archive downloaded, not prepared" if spec.archive_name and cached.exists() else "not prepared"
        print(f"  {name:13s} {state:40s} {spec.description}")
    for manifest_path in sorted(root.glob("*/manifest.json")):
        name = manifest_path.parent.name
        if name not in DATASETS:
            try:
                manifest = read_manifest(name, root)
            except DatasetError:
                continue
            counts = ", ".join(f"{s} {e['count']}" for s, e in manifest["splits"].items())
            print(f"  {name:13s} {'prepared (' + counts + ')':40s} {manifest.get('description', '')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddgan.datasets", description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    return run_data(parser.parse_args(argv))
