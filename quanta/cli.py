"""The ``quanta`` command: parse, build the experiment, run it. Nothing else.

Heavy libraries are imported inside the commands that need them, so that
``quanta --help`` and the listing commands answer at once.
"""

from __future__ import annotations

import argparse
import sys

from quanta.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quanta",
        description="Train, compare and report the machine-learning methods of physics lectures.",
        epilog="Examples:\n  quanta run                      the built-in default experiment (top tagging)\n"
               "  quanta run examples/top_tagging.yaml --seed 2\n"
               "  quanta run --resume runs/top-tagging/20260101-120000\n"
               "  quanta report runs/top-tagging/20260101-120000\n  quanta models",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run an experiment file (default: the built-in top-tagging experiment)",
                              description="Train every method of an experiment on one split; write a run directory with report.html.")
    run.add_argument("experiment", nargs="?", help="experiment YAML file (omit for the built-in default)")
    run.add_argument("--out", help="parent folder of run directories (default: the file's 'output', runs/)")
    run.add_argument("--seed", type=int, help="seed of data, split and training (overrides the file)")
    run.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the file)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run in its directory")

    report = commands.add_parser("report", help="regenerate report.html of a run directory")
    report.add_argument("run_dir", metavar="RUN_DIR")

    for name, what in (("models", "network architectures"), ("methods", "classical methods"),
                       ("tasks", "tasks (what is learned)"), ("datasets", "data sources")):
        commands.add_parser(name, help=f"list the registered {what}")
    return parser


def _listing(command: str) -> None:
    if command == "models":
        from quanta.models import MODELS as registry
    elif command == "methods":
        from quanta.methods import METHODS as registry
    elif command == "tasks":
        from quanta.tasks import TASKS as registry
    else:
        from quanta.data import SOURCES as registry
    entries = registry.describe()
    width = max(len(name) for name in entries)
    for name, description in entries.items():
        print(f"{name.ljust(width)}  {description}")


def _run(args: argparse.Namespace) -> int:
    from quanta.experiment import run_experiment
    from quanta.train.loop import TrainingInterrupted

    if args.resume and args.experiment:
        raise UserError("run: give an experiment file or --resume RUN_DIR, not both")
    try:
        run_experiment(args.experiment, out=args.out, seed=args.seed, device=args.device, resume=args.resume)
    except TrainingInterrupted as stop:
        run_dir = stop.checkpoint.parent.parent if stop.checkpoint else None
        print(f"\ninterrupted after epoch {stop.epoch}", file=sys.stderr)
        if run_dir is not None:
            print(f"checkpoint: {stop.checkpoint}\nresume with: quanta run --resume {run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            from quanta.report import write_report
            from quanta.rundir import require_run_directory

            print(write_report(require_run_directory(args.run_dir)))
            return 0
        _listing(args.command)
        return 0
    except UserError as error:
        print(f"quanta: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
