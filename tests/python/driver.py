"""Drive Python BucketCache 0.12.1 for the bucketcache-rs interop tests.

Reads one JSON job on stdin, runs it with the original library (made importable by the project's
``bc_compat`` shim) and prints one JSON result on stdout.

Job: {
  "op": "info" | "set" | "get",
  "dir": cache directory, "backend": "pickle" | "json" | "msgpack",
  "lifetime_seconds": null or a number (the Bucket's lifetime),
  "now": null or an ISO naive-UTC time that datetime.utcnow() returns while the job runs,
  "items": [{"key": K, "value": V}, ...]   (op "set"),
  "keys": [K, ...]                         (op "get")
}
Result: {"python": ..., "bucketcache": ..., "msgpack": ..., "patches": [...], "results": [...]}
  set -> {"file": name}; get -> {"file": name, "ok": true, "value": V, "type": python type name}
  or {"file": name, "ok": false, "error": repr}, plus "exists_after": whether the file remains.

Keys and values are JSON with tags for what JSON cannot say:
  {"$tuple": [...]}, {"$dict": [[K, V], ...]} (keeps order and non-str keys), {"$bytes": "hex"},
  {"$float": "nan" | "inf" | "-inf"}, {"$int": "decimal"} (ints beyond 64 bits). Dicts with str keys and lists are plain JSON.
"""
from __future__ import absolute_import

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bc_compat  # noqa: E402  (must come before bucketcache)

import datetime as _dt  # noqa: E402

import bucketcache  # noqa: E402
import bucketcache.backends  # noqa: E402
import bucketcache.buckets  # noqa: E402

BACKENDS = {
    'pickle': bucketcache.PickleBackend,
    'json': bucketcache.JSONBackend,
    'msgpack': bucketcache.MessagePackBackend,
}


def untag(x):
    """Tagged JSON -> Python value."""
    if isinstance(x, list):
        return [untag(i) for i in x]
    if isinstance(x, dict):
        if len(x) == 1:
            (tag, inner), = x.items()
            if tag == '$tuple':
                return tuple(untag(i) for i in inner)
            if tag == '$dict':
                return dict((untag(k), untag(v)) for k, v in inner)
            if tag == '$bytes':
                return bytes(bytearray.fromhex(inner))
            if tag == '$float':
                return float(inner)
            if tag == '$int':
                return int(inner)
        return {k: untag(v) for k, v in x.items()}
    return x


def tag(x):
    """Python value -> tagged JSON (the inverse of ``untag``)."""
    if isinstance(x, tuple):
        return {'$tuple': [tag(i) for i in x]}
    if isinstance(x, list):
        return [tag(i) for i in x]
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {k: tag(v) for k, v in x.items()}
        return {'$dict': [[tag(k), tag(v)] for k, v in x.items()]}
    if isinstance(x, bytes):
        return {'$bytes': x.hex()}
    if isinstance(x, int) and not isinstance(x, bool) and not -2**63 <= x < 2**64:
        return {'$int': str(x)}  # beyond what a 64-bit JSON reader keeps exactly
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return {'$float': repr(x)}
    return x


def fix_clock(now):
    """Make ``datetime.utcnow()`` inside bucketcache return ``now`` (a plain datetime)."""
    fixed = _dt.datetime.strptime(now, '%Y-%m-%dT%H:%M:%S.%f' if '.' in now
                                  else '%Y-%m-%dT%H:%M:%S')

    class FixedDatetime(_dt.datetime):
        @classmethod
        def utcnow(cls):
            # A plain datetime, so that pickled expirations name datetime.datetime.
            return fixed

    # buckets.py computes expirations and the lifetime rule; backends.py has_expired().
    bucketcache.buckets.datetime = FixedDatetime
    bucketcache.backends.datetime = FixedDatetime


def open_bucket(job):
    lifetime = job.get('lifetime_seconds')
    kwargs = {}
    if not os.path.isdir(job['dir']):
        os.makedirs(job['dir'])  # the original creates only the last level
    if lifetime:
        kwargs['lifetime'] = _dt.timedelta(seconds=lifetime)
    return bucketcache.Bucket(job['dir'], backend=BACKENDS[job['backend']], **kwargs)


def run(job):
    if job.get('now'):
        fix_clock(job['now'])
    results = []
    op = job['op']
    if op == 'set':
        bucket = open_bucket(job)
        for item in job['items']:
            key = untag(item['key'])
            bucket[key] = untag(item['value'])
            results.append({'file': os.path.basename(bucket._path_for_key(key).__str__())})
    elif op == 'get':
        bucket = open_bucket(job)
        for k in job['keys']:
            key = untag(k)
            path = bucket._path_for_key(key)
            try:
                value = bucket[key]
            except KeyError as e:
                r = {'ok': False, 'error': repr(e)}
            else:
                r = {'ok': True, 'value': tag(value), 'type': type(value).__name__}
            r['file'] = os.path.basename(str(path))
            r['exists_after'] = os.path.exists(str(path))
            results.append(r)
    elif op != 'info':
        raise SystemExit('unknown op %r' % (op,))
    import msgpack
    return {
        'python': sys.version.split()[0],
        'bucketcache': bucketcache.__version__,
        'msgpack': '.'.join(map(str, msgpack.version)),
        'patches': bc_compat.APPLIED,
        'results': results,
    }


def main():
    job = json.load(sys.stdin)
    out = run(job)
    sys.stdout.write(json.dumps(out, allow_nan=False))
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
