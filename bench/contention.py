"""diskcache under contention, in the shape of its own tests/benchmark_core.py: N processes,
each with its own diskcache.Cache on one directory, doing 90% gets / 10% sets over KEYS keys
for SECONDS. Prints [{"get": [ns...], "set": [ns...]}, elapsed_seconds] as JSON (see
bench/src/bin/contention.rs, which runs it)."""
import argparse
import json
import multiprocessing
import time

import diskcache


def value(i):
    return {"name": f"user number {i}", "id": i, "tags": ["alpha", "beta", f"t{i % 7}"], "score": i * 0.25}


def worker(args):
    directory, keys, seed, seconds = args
    cache = diskcache.Cache(directory)
    x = seed | 1
    gets, sets = [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        k = x % keys
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        key = ("user", k)
        if x % 10 == 0:
            t = time.perf_counter_ns()
            cache.set(key, value(k))
            sets.append(time.perf_counter_ns() - t)
        else:
            t = time.perf_counter_ns()
            got = cache.get(key)
            gets.append(time.perf_counter_ns() - t)
            if got is None or got["id"] != k:
                raise SystemExit(f"wrong or missing value for key {k}")
    cache.close()
    return gets, sets


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    with diskcache.Cache(a.dir) as cache:
        for k in range(a.keys):
            cache.set(("user", k), value(k))
    start = time.perf_counter()
    with multiprocessing.Pool(a.workers) as pool:
        results = pool.map(worker, [(a.dir, a.keys, w * 7919 + 17, a.seconds) for w in range(a.workers)])
    elapsed = time.perf_counter() - start
    gets = [g for r in results for g in r[0]]
    sets = [s for r in results for s in r[1]]
    print(json.dumps([{"get": gets, "set": sets}, elapsed]))


if __name__ == "__main__":
    main()
