#!/usr/bin/env python3
"""bench/pages.py: render latency of web pages, one keep-alive connection, requests one after another.

    bench/pages.py http://127.0.0.1:8080 / /docs          # 1,000 requests per path after 100 warm-up ones
    BENCH_REQUESTS=5000 bench/pages.py http://127.0.0.1:8080 /

Prints p50, p90, p99 and the mean per path, in milliseconds (client-side, loopback: what a page costs the server
plus one round trip).
"""
import http.client
import os
import statistics
import sys
import time
import urllib.parse


def measure(base, path, count, warmup=100):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80)
    times = []
    for i in range(warmup + count):
        start = time.perf_counter()
        conn.request("GET", path, headers={"Accept": "text/html"})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200 or not body:
            sys.exit(f"{path}: status {response.status}")
        if i >= warmup:
            times.append(elapsed * 1000)
    conn.close()
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return pick(0.5), pick(0.9), pick(0.99), statistics.fmean(times), len(body)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    base, paths = sys.argv[1], sys.argv[2:]
    count = int(os.environ.get("BENCH_REQUESTS", "1000"))
    print(f"{'path':<20} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'bytes':>8}  ({count} requests each)")
    for path in paths:
        p50, p90, p99, mean, size = measure(base, path, count)
        print(f"{path:<20} {p50:8.3f} {p90:8.3f} {p99:8.3f} {mean:8.3f} {size:8d}")


if __name__ == "__main__":
    main()
