"""Execute chapter notebooks one by one and print each one's wall time and peak memory.

    python scripts/run_notebooks.py notebooks/*.ipynb            # measure only (make bench)
    python scripts/run_notebooks.py --write notebooks/*.ipynb    # store the outputs (make notebooks)

Each notebook runs in a fresh child process with its own kernel, so the peak resident memory
reported (of the kernel, the child's child) belongs to that chapter alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def _execute(path: Path, write: bool) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    if write:
        nbformat.write(notebook, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help="store the executed outputs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        start = time.perf_counter()
        _execute(args.notebooks[0], args.write)
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
        return 0
    print(f"{'chapter':40s} {'seconds':>8s} {'peak MiB':>9s}")
    failed = 0
    for path in args.notebooks:
        command = [sys.executable, __file__, "--child", str(path)] + (["--write"] if args.write else [])
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            failed += 1
            print(f"{path.name:40s} FAILED\n{result.stderr[-3000:]}")
            continue
        stats = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{path.name:40s} {stats['seconds']:8.1f} {stats['peak_mib']:9.0f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
