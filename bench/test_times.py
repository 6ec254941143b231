"""Where `make test`'s time goes, per test file, from a pytest JUnit XML report.

Usage:
    DJANGO_DEBUG=true uv run pytest -n 2 --dist loadfile --no-loadscope-reorder \\
        --junitxml=/tmp/times.xml
    uv run python bench/test_times.py /tmp/times.xml [--workers 2] [--top 30]

Prints each file's total seconds (setup, call and teardown of its tests, as pytest's
JUnit report counts them), slowest first, and the wall time two schedules would take
with that many xdist processes under `--dist loadfile`: xdist's default order (files
with the most tests first) and the order `tests/conftest.py` gives (SLOW_FILES_FIRST).
The simulation hands each file to the process that is free first (xdist does so once
each process has two files queued); it ignores each process's start-up (Django set-up,
the test database), so it is a lower bound.
"""

from __future__ import annotations

import argparse
import ast
import heapq
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"


def file_times(report: Path) -> tuple[dict[str, float], dict[str, int]]:
    """In: a JUnit XML report. Out: seconds and test count per test file path."""
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").split(".")
        # classname is "tests.browser.test_x" or "tests.test_x.SomeClass"
        while path and not path[-1].startswith("test_"):
            path.pop()
        name = "/".join(path) + ".py"
        seconds[name] += float(case.get("time", 0))
        counts[name] += 1
    return dict(seconds), dict(counts)


def makespan(order: list[str], seconds: dict[str, float], workers: int) -> float:
    """Seconds until the last of `workers` processes is done, files handed out in `order`
    to whichever process is free first."""
    free_at = [0.0] * workers
    heapq.heapify(free_at)
    for name in order:
        heapq.heappush(free_at, heapq.heappop(free_at) + seconds[name])
    return max(free_at)


def slow_files_first() -> tuple[str, ...]:
    """SLOW_FILES_FIRST as tests/conftest.py has it (read, not imported: no Django needed)."""
    tree = ast.parse(CONFTEST.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SLOW_FILES_FIRST" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise LookupError(f"no SLOW_FILES_FIRST in {CONFTEST}")


def conftest_order(names: list[str]) -> list[str]:
    """The order tests/conftest.py's pytest_collection_modifyitems gives the files."""
    SLOW_FILES_FIRST = slow_files_first()

    def rank(name: str) -> int:
        if name in SLOW_FILES_FIRST:
            return SLOW_FILES_FIRST.index(name)
        if name.startswith("tests/browser/"):
            return len(SLOW_FILES_FIRST)
        return len(SLOW_FILES_FIRST) + 1

    return sorted(sorted(names), key=rank)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    seconds, counts = file_times(args.report)
    total = sum(seconds.values())
    print(f"{len(seconds)} files, {sum(counts.values())} tests, {total:.0f} s in all")
    for name, value in sorted(seconds.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{value:8.1f} s  {counts[name]:4d} tests  {name}")
    by_count = sorted(sorted(seconds), key=lambda name: -counts[name])
    ordered = conftest_order(list(seconds))
    default_s = makespan(by_count, seconds, args.workers)
    ordered_s = makespan(ordered, seconds, args.workers)
    print(f"\nwith {args.workers} processes, --dist loadfile:")
    print(f"  xdist's default order (most tests first): {default_s:.0f} s")
    print(f"  tests/conftest.py's order (slowest first): {ordered_s:.0f} s")
    print(f"  perfect balance: {total / args.workers:.0f} s")


if __name__ == "__main__":
    main()
