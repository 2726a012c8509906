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
#: a pre-emption signal (SIGTERM, SIGUSR1) stopped a run for a requeue: its place is saved and the
#: same command continues it (job scripts requeue on it; HTCondor's checkpoint_exit_code)
EXIT_PREEMPTED = 85


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quanta",
        description="Train, compare and report the machine-learning methods of physics lectures.",
        epilog="Examples:\n  quanta run                      the built-in default experiment (top tagging)\n"
               "  quanta run examples/top_tagging.yaml --seed 2\n"
               "  quanta run --resume runs/top-tagging/20260101-120000\n"
               "  quanta report runs/top-tagging/20260101-120000\n"
               "  quanta predict runs/my-run/20260101-120000 new.root --out scores.parquet --keep event\n"
               "  quanta models",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run an experiment file (default: the built-in top-tagging experiment)",
                              description="Train every method of an experiment on one split; write a run directory with report.html.",
                              epilog="pre-emption (batch systems):\n"
                                     "  SIGTERM or SIGUSR1 (Slurm --signal=B:USR1@120, an HTCondor eviction) makes a\n"
                                     "  run save its place, a training network's inside the epoch, and exit with\n"
                                     "  status 85; the same command again continues it bit for bit. Use --run-dir so\n"
                                     "  that the requeued command finds it (examples/cluster/). Exit status: 0 done,\n"
                                     "  2 a user error, 85 pre-empted (requeue), 130 Ctrl-C.\n\n"
                                     "examples:\n  quanta run exp.yaml --run-dir /scratch/$USER/exp-run",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("experiment", nargs="?", help="experiment YAML file (omit for the built-in default)")
    run.add_argument("--out", help="parent folder of run directories (default: the file's 'output', runs/)")
    run.add_argument("--seed", type=int, help="seed of data, split and training (overrides the file)")
    run.add_argument("--repeat", type=int, metavar="N",
                     help="train every method N times with different initialisation seeds on the same "
                          "split; the metrics as mean ± std (overrides the file's 'repeat', default 1)")
    run.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the file)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run in its directory")
    run.add_argument("--run-dir", metavar="DIR",
                     help="this exact run directory: created when absent, continued when it holds an "
                          "interrupted run of the same experiment (a requeued batch job repeats the "
                          "same command)")

    tune = commands.add_parser(
        "tune", help="search the hyperparameters of an experiment's search: block with Optuna",
        description="Run an Optuna study over the experiment's search: space on one prepared split "
                    "(the test split untouched), retrain the best configuration, score it once on "
                    "the test split, and write the study's report and best.yaml.",
        epilog="Examples:\n  quanta tune examples/tune_mlp.yaml --trials 20 --jobs 2\n"
               "  quanta tune examples/tune_mlp.yaml --storage postgresql://user@host/quanta "
               "--study mlp-search",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tune.add_argument("experiment", metavar="EXPERIMENT", help="experiment YAML file with a search: block")
    tune.add_argument("--trials", type=int, help="finished trials the study should hold (overrides search.trials)")
    tune.add_argument("--jobs", type=int, default=1, help="worker processes on this machine (default 1)")
    tune.add_argument("--storage", metavar="URL",
                      help="the study's database: default SQLite in the study folder; a "
                           "postgresql:// URL for workers on many machines")
    tune.add_argument("--study", metavar="NAME", help="the study's name (default: the experiment's name)")
    tune.add_argument("--sampler", choices=["grid", "random", "tpe", "gp"],
                      help="overrides search.sampler")
    tune.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting trials after this long")
    tune.add_argument("--out", help="parent folder of the study folder (default: the file's 'output', runs/)")
    tune.add_argument("--worker", action="store_true",
                      help="only run trials of an existing study (a worker on another machine): no "
                           "retraining of the best configuration, no report")

    scan = commands.add_parser(
        "label-scan", help="run a semi-supervised experiment once per fraction of kept labels; "
                           "the test metric against the number of labels",
        description="Run an experiment of task semi_supervised once per fraction of labelled training "
                    "samples (overriding task_params.labelled), each into <out>/<name>-labels/<fraction>/; "
                    "write label_scan.json, label_scan.png and label_scan.html there.",
        epilog="Example:\n  quanta label-scan examples/semi_supervised.yaml --labelled 0.005,0.01,0.05,0.2 "
               "--repeat 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("experiment", metavar="EXPERIMENT", help="experiment YAML file of task semi_supervised")
    scan.add_argument("--labelled", required=True, metavar="FRACTIONS",
                      help="comma-separated fractions of the train split whose labels are kept, each in (0, 1]")
    scan.add_argument("--out", help="parent folder of the scan folder (default: the file's 'output', runs/)")
    scan.add_argument("--repeat", type=int, metavar="N",
                      help="train every method N times per fraction; the metric as mean ± std")
    scan.add_argument("--seed", type=int, help="seed of data, split, labels kept and training (overrides the file)")
    scan.add_argument("--metric", help="the test metric to scan (default: the task's monitored one, e.g. auc)")
    scan.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the file)")

    report = commands.add_parser(
        "report", help="regenerate report.html (and figures/*.png, *.pdf) of a run directory "
                       "or of a study folder of quanta tune")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--style", metavar="{default,atlas,cms,lhcb,root}",
                        help="draw the figures in this style instead of the run's own "
                             "(report.style); the experiments' styles need quanta[style] (mplhep)")
    report.add_argument("--pdf", action="store_true", default=None,
                        help="also write every figure as figures/<name>.pdf (default: the run's "
                             "report.pdf; PNGs are always written)")

    predict = commands.add_parser(
        "predict", help="score new files with the methods of a run trained from files",
        description="Read new files the way the run read its training files (derived,\n"
                    "selection, features, tree), apply its methods and write one output per\n"
                    "input: score_<method> columns next to --keep columns.",
        epilog="output format:\n"
               "  --format parquet|hdf5|root chooses it; without --format the suffix of\n"
               "  --out does (.parquet/.pq, .h5/.hdf5, .root). For one input --out is the\n"
               "  file, written under the name given. For a folder (several inputs, or an\n"
               "  existing folder) each output is named after its input's stem and written\n"
               "  in --format, else in the format the folder's suffix names (scores.root/),\n"
               "  else in the input's own when it is one of these, else as Parquet.\n"
               "  A suffix of --out naming another format than --format is an error.\n\n"
               "examples:\n"
               "  quanta predict RUN_DIR new.root --out scores.parquet --keep event\n"
               "  quanta predict RUN_DIR new/*.root --out scores/ --format hdf5",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    predict.add_argument("run_dir", metavar="RUN_DIR", help="a run directory whose data source is 'files'")
    predict.add_argument("files", nargs="+", metavar="FILES", help="the new files to score")
    predict.add_argument("--out", required=True,
                         help="output file (.parquet, .h5/.hdf5, .root) or, with several inputs, a folder")
    predict.add_argument("--format", metavar="{parquet,hdf5,root}",
                         help="the output format (default: from the suffix of --out; "
                              "see 'output format')")
    predict.add_argument("--method", action="append", default=None, metavar="NAME",
                         help="a method of the run to apply (repeatable; default: all)")
    predict.add_argument("--keep", action="append", default=[], metavar="COL",
                         help="an input column copied to the output (repeatable), e.g. event number or weight")
    predict.add_argument("--tree", help="the TTree of ROOT inputs (default: the run's tree)")
    predict.add_argument("--engine", default="torch", metavar="{torch,onnx}",
                         help="score with the saved estimators (torch, default) or with their "
                              "files of quanta export, run by ONNX Runtime (onnx)")

    export = commands.add_parser(
        "export", help="write the methods of a run as ONNX files that run without quanta",
        description="Write each finished method of a run as one ONNX file (networks with their\n"
                    "standardisation, task scores and target scaling inside), checked against\n"
                    "PyTorch with ONNX Runtime; default <method>/model.onnx in the run directory.",
        epilog="examples:\n  quanta export RUN_DIR\n"
               "  quanta export RUN_DIR --method mlp --out mlp.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", default="onnx", metavar="{onnx}",
                        help="the format (default onnx)")
    export.add_argument("--method", action="append", default=None, metavar="NAME",
                        help="a method of the run to export (repeatable; default: all)")
    export.add_argument("--out", help="the .onnx file for one method, or a folder for several "
                                      "(default: each method's folder of the run)")

    sample = commands.add_parser(
        "sample", help="draw new samples from a generative method of a run and write them to a file",
        description="Draw N samples of the inputs from a finished method that generates (a vae, a\n"
                    "gan, independent_gaussians), in the data's own units, and write them to --out\n"
                    "so that the files source reads them back.",
        epilog="output format:\n"
               "  the suffix of --out: .h5/.hdf5, .npz, .npy (x alone), .parquet/.pq (tables),\n"
               "  .root (a TTree named samples). Without a suffix, a run trained from files\n"
               "  writes its input files' format (the suffix is added). Flat samples x[N, F]\n"
               "  are one column per feature, named as the run's data named them; images stay\n"
               "  one array x [N, C, H, W]; each condition is a column of its own.\n"
               "  An existing file is replaced only with --force, never an input of the run.\n\n"
               "examples:\n"
               "  quanta sample RUN_DIR -n 10000 --out showers.h5\n"
               "  quanta sample RUN_DIR -n 1000 --method vae --condition energy=50 --out e50.npz\n"
               "  quanta sample RUN_DIR -n 500 --condition energy=energies.npy --out fast.root",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sample.add_argument("run_dir", metavar="RUN_DIR")
    sample.add_argument("-n", type=int, required=True, metavar="N", help="the number of samples")
    sample.add_argument("--out", required=True, metavar="FILE",
                        help="the file to write (see 'output format')")
    sample.add_argument("--method", metavar="NAME",
                        help="the method to sample from (default: the first finished one that generates)")
    sample.add_argument("--condition", action="append", default=[], metavar="NAME=VALUE",
                        help="a condition of a conditional method (repeatable): one value for all "
                             "samples, or NAME=FILE.npy with N values")
    sample.add_argument("--seed", type=int, default=0, help="the seed of the draws (default 0)")
    sample.add_argument("--force", action="store_true", help="replace an existing --out")

    fit = commands.add_parser(
        "fit-curve", help="Bayesian (MCMC) fit of a scattering model to a SAXS/SANS curve file",
        description="Sample the posterior of a sasmodels shape's size, polydispersity, scale and background\n"
                    "given a curve (columns q [1/A], I [1/cm], optionally dI; CSV or whitespace text) with\n"
                    "emcee. Writes posterior.npz, summary.json, corner.png and band.png to --out.",
        epilog="example:\n  quanta fit-curve curve.csv --model sphere --steps 3000 --walkers 32 --out fit/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("file", metavar="FILE", help="the curve: columns q, I and optionally dI")
    fit.add_argument("--model", default="sphere", help="sphere, core_shell_sphere or cylinder (default sphere)")
    fit.add_argument("--steps", type=int, default=3000, help="steps per walker (default 3000)")
    fit.add_argument("--walkers", type=int, default=32, help="emcee walkers (default 32)")
    fit.add_argument("--burn", type=int, help="burn-in steps discarded (default steps // 4)")
    fit.add_argument("--seed", type=int, default=1, help="seed of the walkers' start and moves (default 1)")
    fit.add_argument("--dq-over-q", type=float, default=0.0,
                     help="pinhole resolution dq/q of the instrument, 1 sigma (default 0: none)")
    fit.add_argument("--out", help="output folder (default FILE-stem-MODEL-fit)")

    autonomous = commands.add_parser(
        "autonomous", help="autonomous SAXS scan of a simulated sample: GP against raster and random",
        description="Scan a simulated 2D sample point by point with each strategy (a Gaussian process\n"
                    "choosing where to measure, a raster, random points) over several seeds; write the\n"
                    "measurement logs, error.png, maps.png and summary.json to --out.",
        epilog="example:\n  quanta autonomous examples/autonomous/scan.yaml --out scan/\n"
               "  quanta autonomous examples/autonomous/scan.yaml --out scan/ --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    autonomous.add_argument("config", metavar="CONFIG", help="the YAML file (sample, beamline, budget, ...)")
    autonomous.add_argument("--out", help="output folder (default CONFIG-stem-autonomous)")
    autonomous.add_argument("--resume", action="store_true",
                            help="continue the campaigns logged in --out (an interrupted comparison)")

    for name, what in (("models", "network architectures"), ("methods", "classical methods"),
                       ("agents", "reinforcement-learning agents"),
                       ("tasks", "tasks (what is learned)")):
        commands.add_parser(name, help=f"list the registered {what}")
    datasets = commands.add_parser("datasets", help="list the registered data sources; 'datasets show NAME' draws examples, "
                                        "'datasets generate NAME' writes shards",
                                   description="List the data sources, or draw a few examples of one to a PNG.")
    shows = datasets.add_subparsers(dest="action", metavar="ACTION")
    show = shows.add_parser("show", help="write a PNG of a few examples of a source")
    show.add_argument("name", metavar="NAME", help="a source from `quanta datasets`")
    show.add_argument("--size", type=int, default=200, help="samples to generate (default 200)")
    show.add_argument("--view", help="the source's view, if it has several")
    show.add_argument("--seed", type=int, default=1)
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="any other source parameter (repeatable), e.g. --set pt_min=300")
    show.add_argument("--out", help="PNG path (default NAME[-VIEW].png)")
    generate = shows.add_parser(
        "generate", help="write a simulator's events as HDF5 or Parquet shards (for batch-system arrays)",
        description="Write SIZE events of a source as K shards, each deterministic in (seed, shard), "
                    "with a manifest of parameters and checksums; the files source streams them.",
        epilog="Examples:\n  quanta datasets generate jets --size 1000000 --shards 100 --out jets/\n"
               "  quanta datasets generate jets --size 1000000 --shards 100 --shard $SLURM_ARRAY_TASK_ID --out jets/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    generate.add_argument("name", metavar="NAME", help="a source from `quanta datasets`")
    generate.add_argument("--size", type=int, required=True, help="events in all shards together")
    generate.add_argument("--shards", type=int, default=1, help="number of shards K (default 1)")
    generate.add_argument("--shard", type=int, help="write only shard i (0 <= i < K): one task of an array job")
    generate.add_argument("--format", choices=["h5", "parquet"], default="h5", help="file format (default h5)")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--jobs", type=int, default=1,
                          help="shards generated at once on this machine, by as many processes (default 1)")
    generate.add_argument("--view", help="the source's view, if it has several")
    generate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="any other source parameter (repeatable), e.g. --set pt_min=300")
    generate.add_argument("--out", required=True, help="folder of the shards and manifest.json")
    return parser


def _show(args: argparse.Namespace) -> None:
    import yaml

    from quanta.data.display import show_source

    params = {"size": args.size, "seed": args.seed}
    if args.view:
        params["view"] = args.view
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set: expected KEY=VALUE, received {item!r}")
        params[key.strip()] = yaml.safe_load(value)
    print(show_source(args.name, args.out, **params))


def _fit_curve(args: argparse.Namespace) -> None:
    from quanta.inference.command import fit_curve_file, parameter_table
    from quanta.inference.mcmc import LONG_ENOUGH

    folder, posterior = fit_curve_file(args.file, args.model, walkers=args.walkers, steps=args.steps,
                                       burn=args.burn, seed=args.seed, dq_over_q=args.dq_over_q, out=args.out)
    print(parameter_table(posterior))
    if not posterior.long_enough:
        print(f"quanta: warning: the kept chain ({posterior.kept_steps} steps) is shorter than {LONG_ENOUGH} "
              f"autocorrelation times (max {max(posterior.tau):.0f} steps); run more --steps", file=sys.stderr)
    print(folder)


def _autonomous(args: argparse.Namespace) -> None:
    from pathlib import Path

    from quanta.autonomous import compare_strategies, read_autonomous_config, summary_table

    config = read_autonomous_config(args.config)
    out = args.out or f"{Path(args.config).stem}-autonomous"
    try:
        comparison = compare_strategies(config, out=out, resume=args.resume)
    except KeyboardInterrupt:
        print(f"\nresume with: quanta autonomous {args.config} --out {out} --resume", file=sys.stderr)
        raise
    print(summary_table(comparison.summary))
    print(comparison.folder)


def _listing(command: str) -> None:
    if command == "models":
        from quanta.models import MODELS as registry
    elif command == "methods":
        from quanta.methods import METHODS as registry
    elif command == "tasks":
        from quanta.tasks import TASKS as registry
    elif command == "agents":
        from quanta.agents import AGENTS as registry
    else:
        from quanta.data import SOURCES as registry
    entries = registry.describe()
    width = max(len(name) for name in entries)
    for name, description in entries.items():
        print(f"{name.ljust(width)}  {description}")


def _run(args: argparse.Namespace) -> int:
    from quanta.experiment import run_experiment
    from quanta.train.loop import TrainingInterrupted
    from quanta.train.preemption import Preempted, handling

    if args.resume and args.experiment:
        raise UserError("run: give an experiment file or --resume RUN_DIR, not both")
    try:
        with handling(whole_process=True):  # the run's own handling nests in this one
            run_experiment(args.experiment, out=args.out, seed=args.seed, device=args.device,
                           resume=args.resume, run_dir=args.run_dir, repeat=args.repeat)
    except Preempted as stop:  # before TrainingInterrupted: a pre-empted network is both
        _preempted(args, stop)
        return EXIT_PREEMPTED
    except TrainingInterrupted as stop:
        run_dir = stop.checkpoint.parent.parent if stop.checkpoint else None
        if run_dir is not None and run_dir.parent.name == "repeats":  # repeats/<r>/<method>/
            run_dir = run_dir.parent.parent
        print(f"\ninterrupted after epoch {stop.epoch}", file=sys.stderr)
        if run_dir is not None:
            print(f"checkpoint: {stop.checkpoint}\nresume with: quanta run --resume {run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _preempted(args: argparse.Namespace, stop) -> None:
    """Say what a pre-empted run saved and the command that continues it."""
    import shlex

    checkpoint = getattr(stop, "checkpoint", None)
    if checkpoint is not None:
        place = (f"epoch {stop.epoch + 1}, batch {stop.batches} of {stop.of}" if stop.batches
                 else f"the end of epoch {stop.epoch}")
        saved = f"{checkpoint.parent.name} saved its place ({place}) in {checkpoint}"
    elif stop.run_dir is not None:
        saved = (f"stopped at once; the finished methods are kept in {stop.run_dir}, the one in "
                 "progress continues from its last checkpoint or is redone")
    else:
        saved = "stopped before the run directory was made; nothing to keep"
    print(f"\nquanta: pre-empted by {stop.signal}: {saved}", file=sys.stderr)
    if args.run_dir is not None or (stop.run_dir is not None and args.resume is None):
        command = ["quanta", "run", *([args.experiment] if args.experiment else []),
                   "--run-dir", str(args.run_dir or stop.run_dir)]
        command += [*(["--seed", str(args.seed)] if args.seed is not None else []),
                    *(["--repeat", str(args.repeat)] if args.repeat is not None else []),
                    *(["--device", args.device] if args.device else [])]
    elif args.resume is not None:
        command = ["quanta", "run", "--resume", str(args.resume)]
    else:  # nothing made yet: the same command again
        command = ["quanta", "run", *([args.experiment] if args.experiment else []),
                   *(["--out", str(args.out)] if args.out else []),
                   *(["--seed", str(args.seed)] if args.seed is not None else []),
                   *(["--repeat", str(args.repeat)] if args.repeat is not None else []),
                   *(["--device", args.device] if args.device else [])]
    print(f"requeue with: {shlex.join(command)}  (exit status {EXIT_PREEMPTED})", file=sys.stderr)


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
            from quanta.report.search_report import report_kind, write_search_report
            from quanta.rundir import RunDirectory

            if report_kind(args.run_dir) == "study":  # a study folder of quanta tune
                print(write_search_report(args.run_dir, style=args.style, pdf=args.pdf))
                return 0
            print(write_report(RunDirectory.open(args.run_dir).path, style=args.style, pdf=args.pdf))
            return 0
        if args.command == "predict":
            from quanta.predict import predict_files

            for path in predict_files(args.run_dir, args.files, args.out, methods=args.method,
                                      keep=args.keep, tree=args.tree, format=args.format,
                                      engine=args.engine):
                print(path)
            return 0
        if args.command == "export":
            from quanta.export import export_run

            for path in export_run(args.run_dir, args.format, methods=args.method, out=args.out):
                print(path)
            return 0
        if args.command == "sample":
            from quanta.sample import parse_conditions, sample_run

            print(sample_run(args.run_dir, args.n, args.out, method=args.method,
                             condition=parse_conditions(args.condition), seed=args.seed,
                             force=args.force).summary())
            return 0
        if args.command == "fit-curve":
            _fit_curve(args)
            return 0
        if args.command == "autonomous":
            _autonomous(args)
            return 0
        if args.command == "datasets" and args.action == "show":
            _show(args)
            return 0
        if args.command == "datasets" and args.action == "generate":
            from quanta.shards import generate_command

            return generate_command(args)
        if args.command == "tune":
            from quanta.tune.command import tune_command

            return tune_command(args)
        if args.command == "label-scan":
            from quanta.label_scan import label_scan_command

            return label_scan_command(args)
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
