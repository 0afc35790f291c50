"""The Python side of bucketcache's comparison harness.

Measures the original BucketCache 0.12.1 (through the project's shim, tests/python/bc_compat.py)
and diskcache with the same workload as bench/src/ours.rs, and prints
{system: {workload: median µs/op}} as JSON. Run by `cargo run --release --manifest-path
bench/Cargo.toml`; PYTHONPATH must contain tests/python.
"""
import argparse
import json
import os
import statistics
import sys
import time

import bc_compat  # noqa: F401  (must come before bucketcache)
import bucketcache
import diskcache

BATCH = 16


def median_us(n, op):
    samples = []
    for start in range(0, n, BATCH):
        end = min(start + BATCH, n)
        t = time.perf_counter()
        for i in range(start, end):
            op(i)
        samples.append((time.perf_counter() - t) * 1e6 / (end - start))
    return statistics.median(samples)


def median_each_us(n, op):
    samples = []
    for i in range(n):
        t = time.perf_counter()
        op(i)
        samples.append((time.perf_counter() - t) * 1e6)
    return statistics.median(samples)


def value(i):
    return {"id": i, "name": "user %08d" % i, "email": "user%08d@example.com" % i,
            "score": 0.9375, "active": True, "tags": ["admin", "ops"]}


LARGE = "x" * (1 << 20)


def original(backend, n, d):
    r = {}
    b = bucketcache.Bucket(d, backend=backend, hours=1)
    values = [value(i) for i in range(n)]

    def put(i):
        b[("user", i)] = values[i]
    r["set"] = median_us(n, put)
    cold = bucketcache.Bucket(d, backend=backend, hours=1)
    r["get cold"] = median_us(n, lambda i: cold[("user", i)])
    r["get warm"] = median_us(n, lambda i: cold[("user", i)])

    populate = bucketcache.Bucket(d, backend=backend, hours=1)

    @populate
    def fetch(i):
        return values[i]
    for i in range(n):
        fetch(i)
    memo = bucketcache.Bucket(d, backend=backend, hours=1)

    @memo
    def fetch(i):  # noqa: F811  (same name: same key as the populated entries)
        raise AssertionError("a hit was expected")
    r["memo hit cold"] = median_us(n, fetch)
    r["memo hit warm"] = median_us(n, fetch)

    def big_set(i):
        b[("big", i % 4)] = LARGE
    r["1MiB set"] = median_each_us(20, big_set)
    r["1MiB get"] = median_each_us(
        20, lambda i: bucketcache.Bucket(d, backend=backend, hours=1)[("big", i % 4)])
    r["open"] = median_each_us(5, lambda i: bucketcache.Bucket(d, backend=backend, hours=1))
    # Prune: a bucket with a shorter lifetime expires every entry (the "lifetime changed" rule).
    short = bucketcache.Bucket(d, backend=backend, seconds=1)
    t = time.perf_counter()
    info = short.prune_directory()
    r["prune"] = (time.perf_counter() - t) * 1e6 / max(info.num, 1)
    return r


def disk(n, d):
    r = {}
    c = diskcache.Cache(d)
    values = [value(i) for i in range(n)]
    r["set"] = median_us(n, lambda i: c.set(("user", i), values[i]))
    c.close()
    cold = diskcache.Cache(d)
    r["get cold"] = median_us(n, lambda i: cold.get(("user", i)))
    r["get warm"] = median_us(n, lambda i: cold.get(("user", i)))

    @cold.memoize(name="fetch")
    def fetch(i):
        return values[i]
    for i in range(n):
        fetch(i)
    cold.close()
    memo = diskcache.Cache(d)

    @memo.memoize(name="fetch")
    def fetch(i):  # noqa: F811
        raise AssertionError("a hit was expected")
    r["memo hit cold"] = median_us(n, fetch)
    r["memo hit warm"] = median_us(n, fetch)
    r["1MiB set"] = median_each_us(20, lambda i: memo.set(("big", i % 4), LARGE))
    r["1MiB get"] = median_each_us(20, lambda i: memo.get(("big", i % 4)))
    memo.close()
    r["open"] = median_each_us(5, lambda i: diskcache.Cache(d).close())
    expiring = diskcache.Cache(os.path.join(d, "expiring"))
    for i in range(n):
        expiring.set(("user", i), values[i], expire=0.5)
    time.sleep(0.6)
    t = time.perf_counter()
    removed = expiring.expire()
    r["prune"] = (time.perf_counter() - t) * 1e6 / max(removed, 1)
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    out = {}
    for name, backend in [("pickle", bucketcache.PickleBackend), ("json", bucketcache.JSONBackend),
                          ("msgpack", bucketcache.MessagePackBackend)]:
        d = os.path.join(a.dir, "original-" + name)
        print("original", name, file=sys.stderr)
        out["original BucketCache " + name] = original(backend, a.n, d)
    print("diskcache", file=sys.stderr)
    out["diskcache"] = disk(a.n, os.path.join(a.dir, "diskcache"))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
