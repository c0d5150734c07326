"""Measure peak Python memory and speed of reading card CSVs of growing size (prints a table)."""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from demo.synthetic import generate_cards, write_csv
from workers.sources.csv_file import CardFile


def measure(path: Path) -> tuple[int, float, int]:
    """(rows read, seconds, peak traced bytes) of one full pass over the file."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        count = sum(1 for _ in CardFile(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, time.perf_counter() - started, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="2000,20000,200000", help="row counts, comma-separated")
    parser.add_argument("--encoding", default="cp932", choices=("cp932", "utf-8", "utf-8-sig"))
    args = parser.parse_args()
    print(f"{'rows':>9} {'file MB':>8} {'read s':>7} {'rows/s':>8} {'peak KiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"cards-{size}.csv"
            write_csv(path, generate_cards(size, seed=1, bad_rate=0.01), encoding=args.encoding)
            count, seconds, peak = measure(path)
            megabytes = path.stat().st_size / 1e6
            # Timings include tracemalloc's overhead, which roughly doubles them.
            print(
                f"{count:>9} {megabytes:>8.1f} {seconds:>7.2f} {count / seconds:>8.0f}"
                f" {peak / 1024:>9.0f}"
            )


if __name__ == "__main__":
    main()
