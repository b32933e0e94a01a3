"""adpipe: the shared machinery of the ad-analytics pipeline (paths, errors, IO, validation)."""

import os

# numpy asks the kernel for transparent huge pages for every large array (madvise); with the kernel's default
# defrag policy ("madvise") a first touch may then stop to compact memory. On this project's VM that cost 3-4 s
# of kernel time for the 0.5 GB feature table of 10^7 sessions, and 2-4 s of a whole build (docs/bench.md).
# Set before numpy is imported (every command, the service and the Dask workers import adpipe first); a value
# already in the environment wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
