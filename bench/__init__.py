"""`make bench`: ModelPackagingJob measured against AwsCustomResource, crhelper polling and the Provider framework.

Run ``python -m bench.run`` (full, writes bench/results.json and bench/RESULTS.md) or ``python -m bench.run --quick
--out DIR`` (N=1, one or two repeats: the smoke test). Every pair is measured in the same run, interleaved, and
compared as a ratio, because the machine is shared and noisy.
"""
