"""`make bench`: ModelPackagingJob measured against AwsCustomResource, crhelper polling and the Provider framework.

Run ``python -m bench.run`` (full: writes bench/summary.json and bench/RESULTS.md, and the raw runs to the ignored
build/bench-raw.json) or ``python -m bench.run --quick --out DIR`` (N=1, one or two repeats: the smoke test);
``python -m bench.report`` rebuilds RESULTS.md from the summary alone. Every pair is measured in the same run,
interleaved, and compared as a ratio, because the machine is shared and noisy.
"""
