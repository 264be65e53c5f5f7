"""Opening Whoosh searchers on a built index: Whoosh's own BufferFile (copies each compound file out of the
segment's mmap) against the portal's in-place reading (portal/search/index/whoosh_files.py), in one run.

    .venv/bin/python scripts/bench/whoosh_open.py INDEX_GENERATION_DIR [--searchers 8]

e.g. the kept index of ``scripts/bench/search.py speed --corpus real --sizes 10000 --keep /tmp/ha-bench``:
/tmp/ha-bench/real-10000/home/index/gen-*. Each way runs in its own process (RSS is per process): it opens
``--searchers`` searchers one after another, as the portal's pool does, each reading one document's stored
fields, and prints the milliseconds per searcher and the process's RSS with all of them open.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import sys, time
from whoosh import index
if sys.argv[2] == "in place":
    from portal.search.index import whoosh_files
    whoosh_files.install()
ix = index.open_dir(sys.argv[1])
times, kept = [], []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    searcher = ix.searcher()
    searcher.stored_fields(0)
    times.append((time.perf_counter() - start) * 1000)
    kept.append(searcher)
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
print(f"{sys.argv[2]:>18}: {min(times):7.1f}–{max(times):7.1f} ms per searcher, RSS {rss:,.0f} MB with {len(kept)} open")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--searchers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="each way this many times, alternately")
    args = parser.parse_args()
    # Importing any portal search module installs the in-place reading: Whoosh's own way runs without them.
    for _ in range(args.rounds):
        for way in ("Whoosh's copies", "in place"):
            subprocess.run([sys.executable, "-c", CHILD, args.directory, way, str(args.searchers)], check=True)
    with open("/proc/loadavg") as f:
        print("load average", " / ".join(f.read().split()[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
