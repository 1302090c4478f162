"""The ``skl-snapshot`` command: run the reference experiment and print its table."""

import argparse
import os
import sys
import time

from ._quiet import import_tensorflow_quietly


def _parser():
    parser = argparse.ArgumentParser(
        prog="skl-snapshot",
        description=(
            "Train a snapshot ensemble on the reference workload (make_blobs, 100"
            " training and 1000 test rows) and print, for every snapshot, its test"
            " accuracy alone and that of the ensemble of the last k snapshots."
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    parser.add_argument(
        "--epochs", type=int, default=500, help="total epochs (default 500)"
    )
    parser.add_argument(
        "--cycles", type=int, default=10, help="number of cycles, M (default 10)"
    )
    parser.add_argument(
        "--lr-max", type=float, default=0.01, help="peak learning rate (default 0.01)"
    )
    parser.add_argument(
        "--output-dir",
        default="skl_snapshot_output",
        help=(
            "directory for the figures ensemble_size.png and learning_rate.png"
            " (default ./skl_snapshot_output)"
        ),
    )
    return parser


def _write_figures(classifier, X_test, y_test, output_dir):
    """Draw both displays into PNG files; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plotting import EnsembleSizeDisplay, LearningRateDisplay

    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for name, draw in (
        (
            "ensemble_size.png",
            lambda ax: EnsembleSizeDisplay.from_estimator(
                classifier, X_test, y_test, ax=ax
            ),
        ),
        (
            "learning_rate.png",
            lambda ax: LearningRateDisplay.from_estimator(classifier, ax=ax),
        ),
    ):
        figure, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        draw(ax)
        path = os.path.join(output_dir, name)
        figure.savefig(path, dpi=120)
        plt.close(figure)
        paths.append(path)
    return paths


def main(argv=None):
    """Entry point of ``skl-snapshot`` and ``python -m skl_snapshot``."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow_quietly()
    from sklearn.utils._param_validation import InvalidParameterError

    from ._reference import (
        format_table,
        load_reference_data,
        reference_classifier,
        snapshot_table,
    )

    X_train, y_train, X_test, y_test = load_reference_data()
    classifier = reference_classifier(
        epochs=args.epochs,
        n_cycles=args.cycles,
        lr_max=args.lr_max,
        random_state=args.seed,
    )
    started = time.perf_counter()
    try:
        classifier.fit(X_train, y_train)
    except (InvalidParameterError, ValueError, TypeError) as error:
        print(f"skl-snapshot: error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(
        f"Reference workload: {len(X_train)} training rows, {len(X_test)} test rows;"
        f" {args.epochs} epochs in {args.cycles} cycles, lr_max={args.lr_max},"
        f" seed {args.seed}; fit in {seconds:.2f} s."
    )
    print(format_table(snapshot_table(classifier, X_test, y_test)))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "Figures skipped: matplotlib is not installed"
            " (pip install 'skl_snapshot[plot]')."
        )
        return 0
    try:
        paths = _write_figures(classifier, X_test, y_test, args.output_dir)
    except OSError as error:
        print(f"skl-snapshot: error: cannot write figures: {error}", file=sys.stderr)
        return 2
    print("Figures: " + ", ".join(os.path.abspath(path) for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
