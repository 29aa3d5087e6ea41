#!/usr/bin/env python3
"""The edge's own handling time over a stretch of a benchmark, from its Prometheus histogram
tally_edge_request_duration_seconds (from the request's arrival at the tracking controller to its answer,
commit included). What the load generator measures on top of it is time spent waiting to be read and
waiting for the load generator itself to run.

    handling-time.py snapshot URL          prints the histogram's buckets now (save it)
    handling-time.py since FILE URL        the share of requests answered within each bucket since FILE
"""
import sys
import urllib.request

METRIC = "tally_edge_request_duration_seconds_bucket"


def buckets(text):
    counts = {}
    for line in text.splitlines():
        if not line.startswith(METRIC + "{"):
            continue
        labels, value = line.rsplit(" ", 1)
        bound = labels.split('le="', 1)[1].split('"', 1)[0]
        counts[float("inf") if bound == "+Inf" else float(bound)] = float(value)
    if not counts:
        sys.exit(f"No {METRIC} lines in the metrics; is the edge's /metrics endpoint the one given?")
    return counts


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def main(argv):
    if len(argv) == 3 and argv[1] == "snapshot":
        print(fetch(argv[2]), end="")
    elif len(argv) == 4 and argv[1] == "since":
        with open(argv[2]) as saved:
            before = buckets(saved.read())
        after = buckets(fetch(argv[3]))
        total = after[float("inf")] - before.get(float("inf"), 0)
        if total <= 0:
            sys.exit("No tracking request was answered between the snapshot and now.")
        parts = []
        p99 = None
        for bound in sorted(after):
            share = (after[bound] - before.get(bound, 0)) / total
            if bound != float("inf"):
                parts.append(f"{share * 100:.1f} % within {bound * 1000:g} ms")
            if p99 is None and share >= 0.99:
                p99 = "above 1 s" if bound == float("inf") else f"at most {bound * 1000:g} ms"
        print(f"{int(total)} requests; p99 {p99}; " + ", ".join(parts))
    else:
        sys.exit(__doc__.strip())


if __name__ == "__main__":
    main(sys.argv)
