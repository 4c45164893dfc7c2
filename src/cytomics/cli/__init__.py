"""The ``cytomics`` command line.

Each subcommand lives in its own module ``cytomics.cli.<name>`` exposing
``register(subparsers)`` (adds its parser; must import nothing heavy) and
``run(args) -> int`` (does the work; heavy imports go inside).

Exit codes (DESIGN §8): 0 ok/review, 3 rejected input (message on stderr naming the file and
the defect), 2 usage error, 1 anything else (a bug: traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cytomics import __version__

#: subcommand module names, in ``--help`` order.
SUBCOMMANDS: tuple[str, ...] = (
    "inspect",
    "analyze",
    "simulate",
    "apply_gates",
    "sheet",
    "summary",
)

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="cytomics",
        description="Flow-cytometry pipeline for pediatric acute leukemia (ALOT, MRD).",
    )
    parser.add_argument("--version", action="version", version=f"cytomics {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"cytomics.cli.{name}")
        except ModuleNotFoundError as exc:  # subcommand not built yet
            if exc.name == f"cytomics.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cytomics`` console script."""
    from cytomics._runtime import configure_numpy_allocation
    from cytomics.errors import CytomicsInputError

    configure_numpy_allocation()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CytomicsInputError as exc:
        print(f"cytomics {args.command}: rejected: [{exc.code}] {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
