"""The Python side of bucketcache's comparison harness.

Measures the original BucketCache 0.12.1 (through the project's shim, tests/python/bc_compat.py),
diskcache, a floor (raw Python file per key: the same pickle bytes written, renamed, read and
unpickled with no cache code) and this project's Python package (python/, also imported as `bucketcache`, so it runs
in its own interpreter: `--ours-python`, default target/python-venv/bin/python when it exists)
with the same workload as bench/src/ours.rs, and prints {system: {workload: median µs/op}} as
JSON, and the ratios of the package against the others on stderr. Run by `cargo run --release
--manifest-path bench/Cargo.toml`; PYTHONPATH must contain tests/python. By hand:

    target/bench-venv/bin/python bench/python_bench.py --n 2000 --dir /tmp/pb \
        --ours-python target/python-venv/bin/python
"""
import argparse
import json
import os
import subprocess
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


def original(bucketcache, backend, n, d, **store):
    """The original's API at size n in d; `store` (this package only: store="lmdb") goes to
    every Bucket."""
    r = {}
    Bucket = bucketcache.Bucket
    if store:
        def Bucket(*args, **kwargs):  # noqa: N802  (stands for the class)
            return bucketcache.Bucket(*args, **kwargs, **store)
    b = Bucket(d, backend=backend, hours=1)
    values = [value(i) for i in range(n)]

    def put(i):
        b[("user", i)] = values[i]
    r["set"] = median_us(n, put)
    cold = Bucket(d, backend=backend, hours=1)
    r["get cold"] = median_us(n, lambda i: cold[("user", i)])
    r["get warm"] = median_us(n, lambda i: cold[("user", i)])

    populate = Bucket(d, backend=backend, hours=1)

    @populate
    def fetch(i):
        return values[i]
    for i in range(n):
        fetch(i)
    memo = Bucket(d, backend=backend, hours=1)

    @memo
    def fetch(i):  # noqa: F811  (same name: same key as the populated entries)
        raise AssertionError("a hit was expected")
    r["memo hit cold"] = median_us(n, fetch)
    r["memo hit warm"] = median_us(n, fetch)

    def big_set(i):
        b[("big", i % 4)] = LARGE
    r["1MiB set"] = median_each_us(20, big_set)
    r["1MiB get"] = median_each_us(
        20, lambda i: Bucket(d, backend=backend, hours=1)[("big", i % 4)])
    r["open"] = median_each_us(5, lambda i: Bucket(d, backend=backend, hours=1))
    # Prune: a bucket with a shorter lifetime expires every entry (the "lifetime changed" rule).
    short = Bucket(d, backend=backend, seconds=1)
    t = time.perf_counter()
    info = short.prune_directory()
    r["prune"] = (time.perf_counter() - t) * 1e6 / max(info.num, 1)
    return r


def disk(n, d):
    import diskcache
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


def floor(n, d):
    """What a file per key costs Python without any cache code: the same pickled bytes the
    package writes (``{'value': v, 'expiration_date': t}``) written as a temporary file and
    renamed over the entry (``set``), read back with open/read/close (``read``) and unpickled
    (``get cold``)."""
    import datetime
    import hashlib
    import pickle
    os.makedirs(d, exist_ok=True)
    exp = datetime.datetime.utcnow() + datetime.timedelta(hours=1)
    blobs = [pickle.dumps({"value": value(i), "expiration_date": exp}, protocol=2)
             for i in range(n)]
    names = [os.path.join(d, hashlib.md5(b"%d" % i).hexdigest() + ".pickle") for i in range(n)]

    def put(i):
        tmp = names[i] + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, blobs[i])
        os.close(fd)
        os.rename(tmp, names[i])

    def read(i):
        fd = os.open(names[i], os.O_RDONLY)
        data = os.read(fd, 1 << 16)
        os.close(fd)
        return data

    r = {"set": median_us(n, put)}
    r["read"] = median_us(n, read)
    r["get cold"] = median_us(n, lambda i: pickle.loads(read(i)))
    return r


def ours_main(n, directory):
    import bucketcache
    assert hasattr(bucketcache.Bucket, "stats"), "not this project's package"
    out = {}
    for name, backend in [("pickle", bucketcache.PickleBackend), ("json", bucketcache.JSONBackend),
                          ("msgpack", bucketcache.MessagePackBackend)]:
        print("bucketcache (Python package)", name, file=sys.stderr)
        out["bucketcache Python " + name] = original(
            bucketcache, backend, n, os.path.join(directory, "ours-" + name))
    # The like-for-like peer of diskcache (a database in the directory, not a file per key).
    print("bucketcache (Python package) pickle, lmdb store", file=sys.stderr)
    out["bucketcache Python pickle lmdb"] = original(
        bucketcache, bucketcache.PickleBackend, n, os.path.join(directory, "ours-lmdb"),
        store="lmdb")
    return out


RATIOS = [
    # (workload, baseline system, what the issue asks)
    ("set", "diskcache", 3), ("get cold", "diskcache", 3), ("get warm", "diskcache", 3),
    ("memo hit cold", "original BucketCache {}", 3), ("memo hit warm", "original BucketCache {}", 3),
]


def print_ratios(out):
    for fmt in ("pickle", "json", "msgpack", "pickle lmdb"):
        ours = out.get("bucketcache Python " + fmt)
        if not ours:
            continue
        for workload, base, target in RATIOS:
            other = out.get(base.format(fmt.split()[0]), {}).get(workload)
            if other:
                print("ratio {:<8} {:<14} {:>8.2f} µs vs {:<28} {:>8.2f} µs: {:5.2f}x faster "
                      "(target {}x)".format(fmt, workload, ours[workload], base.format(fmt),
                                            other, other / ours[workload], target),
                      file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--only", choices=["ours"], help="measure only this project's package")
    p.add_argument("--ours-python", help="the interpreter where this project's package is "
                   "installed (default: target/python-venv/bin/python when it exists)")
    a = p.parse_args()
    if a.only == "ours":
        json.dump(ours_main(a.n, a.dir), sys.stdout)
        return
    import bc_compat  # noqa: F401  (must come before bucketcache)
    import bucketcache
    out = {}
    for name, backend in [("pickle", bucketcache.PickleBackend), ("json", bucketcache.JSONBackend),
                          ("msgpack", bucketcache.MessagePackBackend)]:
        d = os.path.join(a.dir, "original-" + name)
        print("original", name, file=sys.stderr)
        out["original BucketCache " + name] = original(bucketcache, backend, a.n, d)
    print("diskcache", file=sys.stderr)
    out["diskcache"] = disk(a.n, os.path.join(a.dir, "diskcache"))
    print("floor (raw Python file per key)", file=sys.stderr)
    out["floor: raw Python file per key"] = floor(a.n, os.path.join(a.dir, "floor"))
    ours_python = a.ours_python or os.path.join(REPO, "target", "python-venv", "bin", "python")
    if os.path.exists(ours_python):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([ours_python, os.path.abspath(__file__), "--only", "ours",
                               "--n", str(a.n), "--dir", a.dir], env=env, check=True,
                              stdout=subprocess.PIPE)
        out.update(json.loads(done.stdout))
        print_ratios(out)
    else:
        print("no {}: this project's Python package not measured".format(ours_python),
              file=sys.stderr)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
