"""Run every bench script and collect their reports in bench/RESULTS.md.

Each script runs as its own process (so that one's memory and warm TensorFlow do
not leak into the next) with ``--output`` to a temporary Markdown file; their
reports are concatenated, under a header naming the date, the machine, the
library versions and the command, into ``bench/RESULTS.md`` (or ``--output``).
The scripts' own progress goes to the console as they run.

Run it from the repository root (about half an hour on two CPU cores;
``--quick`` takes about eight minutes)::

    python bench/run_all.py
    python bench/run_all.py --quick --output /tmp/results.md
"""

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

from _report import distribution_versions
from bench_memory import cpu_model

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

#: Script name, its options for a full run, and for a quick one.
SCRIPTS = (
    ("bench_reference.py", [], ["--seeds", "0"]),
    ("bench_inference.py", [], ["--large-rows", "100000"]),
    ("bench_memory.py", [], []),
    ("bench_memory_growth.py", [], ["--fits", "30"]),
    (
        "bench_networks.py",
        [],
        ["--rows", "1000", "10000", "--repeats", "1", "--seeds", "0"],
    ),
    ("bench_callback.py", [], ["--epochs", "50", "--repeats", "1"]),
    ("bench_onnx.py", [], ["--repeats", "5"]),
    ("bench_training.py", [], ["--seeds", "0", "--max-rows", "100000"]),
    ("bench_quality.py", [], ["--seeds", "0", "1", "2"]),
    ("bench_regression.py", [], ["--seeds", "0", "1", "--timing-epochs", "5"]),
    ("bench_parallel.py", [], ["--repeats", "1"]),
)

DISTRIBUTIONS = (
    "tensorflow",
    "keras",
    "scikit-learn",
    "scikeras",
    "joblib",
    "dask",
    "distributed",
    "numpy",
    "skl_snapshot",
)


def demote_headings(markdown):
    """Turn a script's ``##`` headings into ``###``, under its own ``##``."""
    return "\n".join(
        "#" + line if line.startswith("## ") else line for line in markdown.splitlines()
    )


def run_script(name, options, work_dir):
    """Run one script; return its Markdown section and whether it succeeded."""
    output = os.path.join(work_dir, name.replace(".py", ".md"))
    command = [sys.executable, os.path.join(BENCH_DIR, name), *options]
    shown = shlex.join(["python", f"bench/{name}", *options])
    print(f"\n=== {shown}", flush=True)
    start = time.perf_counter()
    completed = subprocess.run([*command, "--output", output])
    minutes = (time.perf_counter() - start) / 60
    section = [f"## {name}", "", f"`{shown}`, {minutes:.1f} minutes.", ""]
    if completed.returncode != 0:
        section.append(
            f"**Failed** with exit status {completed.returncode}; see the console."
        )
        return "\n".join(section) + "\n", False
    with open(output, encoding="utf-8") as handle:
        section.append(demote_headings(handle.read()))
    return "\n".join(section).rstrip() + "\n", True


def header(command):
    machine = f"{platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs"
    library = ", ".join(
        f"{name} {version}"
        for name, version in distribution_versions(DISTRIBUTIONS).items()
    )
    today = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join(
        [
            "# skl_snapshot benchmark results",
            "",
            f"Date: {today}  ",
            f"Machine: {machine}  ",
            f"Versions: {library}  ",
            f"Command: `{command}`",
            "",
            "Timings move with the machine and its load; compare ratios measured in"
            " the same run, not seconds across machines.",
            "",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small settings (one seed, fewer rows) for a fast check",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        default=os.path.join(BENCH_DIR, "RESULTS.md"),
        help="where to write the results (default: bench/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "bench/run_all.py", *given])

    sections, failed = [], []
    with tempfile.TemporaryDirectory(prefix="bench_run_all_") as work_dir:
        for name, full, quick in SCRIPTS:
            section, succeeded = run_script(
                name, quick if args.quick else full, work_dir
            )
            sections.append(section)
            if not succeeded:
                failed.append(name)

    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(header(command) + "\n" + "\n".join(sections))
    print(f"\nResults written to {args.output}")
    if failed:
        sys.exit(f"Failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
