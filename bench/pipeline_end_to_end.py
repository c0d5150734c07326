"""End-to-end numbers of the demo pipeline: cards/s and API calls against their lower bound.

    uv run python bench/pipeline_end_to_end.py [--cards 5000 20000] [--workers 2]

Each size runs `cardsync demo` in-process (its own redis-server, the emulator, real worker
processes). Prints numbers; never passes or fails on time.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from demo.run import DemoOptions, run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("CARDSYNC_LOG_LEVEL", "WARNING")
    print(
        f"{'cards':>8} {'persons':>8} {'accounts':>9} {'elapsed_s':>10} {'cards/s':>9} "
        f"{'api_calls':>10} {'lower_bound':>12} {'over':>6}"
    )
    for n in args.cards:
        with tempfile.TemporaryDirectory(prefix="cardsync-bench-") as work:
            options = DemoOptions(
                cards=n, workers=args.workers, threads=args.threads, work_dir=Path(work)
            )
            summary = run_demo(options)
        # Writes only: one call per 200 persons and per 200 new Accounts.
        bound = math.ceil(summary.persons / 200) + math.ceil(summary.accounts_created / 200)
        print(
            f"{n:>8} {summary.persons:>8} {summary.accounts_created:>9} {summary.elapsed_s:>10.2f} "
            f"{n / summary.elapsed_s:>9.0f} {summary.api_calls:>10} {bound:>12} "
            f"{summary.api_calls - bound:>6}"
        )


if __name__ == "__main__":
    main()
