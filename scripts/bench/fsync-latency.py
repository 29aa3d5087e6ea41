"""The disk's own durability latency, for reading the edge's latency figures: appends 8 KiB to a file
in DIR and fdatasyncs it, COUNT times, as a write-ahead log commit does, and prints the p50, p99 and
maximum in milliseconds.

    python3 fsync-latency.py DIR [COUNT]
"""
import os
import sys
import time

directory = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
path = os.path.join(directory, "fsync-latency.tmp")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = b"x" * 8192
samples = []
try:
    for _ in range(count):
        os.write(fd, block)
        started = time.perf_counter()
        os.fdatasync(fd)
        samples.append((time.perf_counter() - started) * 1000)
finally:
    os.close(fd)
    os.unlink(path)
samples.sort()
print("%.3f %.3f %.3f" % (samples[len(samples) // 2], samples[int(len(samples) * 0.99)], samples[-1]))
