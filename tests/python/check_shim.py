"""Check that ``bc_compat`` makes the original BucketCache 0.12.1 work, against its own fixtures.

Usage: python check_shim.py FIXTURE_DIR
FIXTURE_DIR is ``tests/fixtures/python-bucketcache-0.12.1`` (with ``manifest.json``).

Rewrites every fixture entry (plain, lifetime, lifetime0, expired: same key, value and fixed
clock as the generator), every decorator call, and compares the files byte for byte; reads every
entry back and compares with ``expected_on_read``; checks that a truncated msgpack file is a miss
(P4) and that P5 restores the <= 3.10 key bytes. Prints one JSON object
{"checked": n, "failures": [...], "patches": [...]} and exits 1 on any failure.
"""
from __future__ import absolute_import

import ast
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bc_compat  # noqa: E402
import driver  # noqa: E402  (imports bucketcache; gives fix_clock)

import datetime as _dt  # noqa: E402

import bucketcache  # noqa: E402
import bucketcache.keymakers  # noqa: E402

VARIANT_CLOCK = {'plain': None}
BACKEND_OF = {'PickleBackend': 'pickle', 'JSONBackend': 'json', 'MessagePackBackend': 'msgpack'}


def main():
    fixtures = sys.argv[1]
    with open(os.path.join(fixtures, 'manifest.json')) as f:
        manifest = json.load(f)
    clocks = dict(VARIANT_CLOCK, **manifest['generator']['fixed_clocks_utcnow'])
    keys = {k['id']: ast.literal_eval(k['key_repr']) for k in manifest['keys']}
    failures = []
    checked = 0
    work = tempfile.mkdtemp(prefix='bc-check-')
    try:
        for e in manifest['entries']:
            backend = driver.BACKENDS[BACKEND_OF[e['backend']]]
            variant = e['dir'].split('/')[1]
            key = keys[e['key_id']]
            original = os.path.join(fixtures, e['dir'], e['filename'])
            with open(original, 'rb') as f:
                original_bytes = f.read()
            out = os.path.join(work, 'w', e['dir'])
            if not os.path.isdir(out):
                os.makedirs(out)  # the original creates only the last level
            checked += 1
            if variant != 'corrupt':
                now = clocks[variant]
                if now:
                    driver.fix_clock(now)
                    b = bucketcache.Bucket(out, backend=backend, hours=1)
                else:
                    driver.fix_clock('2000-01-01T00:00:00')
                    b = bucketcache.Bucket(out, backend=backend)
                b[key] = ast.literal_eval(e['value_repr'])
                written = os.path.join(out, e['filename'])
                if not os.path.exists(written):
                    failures.append('%s/%s: wrote %s' % (e['dir'], e['filename'],
                                                         os.listdir(out)))
                else:
                    with open(written, 'rb') as f:
                        if f.read() != original_bytes:
                            failures.append('%s/%s: bytes differ' % (e['dir'], e['filename']))
            # Read a copy of the original file back with the real clock and no lifetime.
            bucketcache.buckets.datetime = _dt.datetime
            bucketcache.backends.datetime = _dt.datetime
            rd = os.path.join(work, 'r', e['dir'])
            if not os.path.isdir(rd):
                os.makedirs(rd)
            shutil.copy(original, rd)
            b = bucketcache.Bucket(rd, backend=backend)
            want = e['expected_on_read']
            try:
                got = b[key]
            except KeyError:
                if want['ok']:
                    failures.append('%s/%s: miss' % (e['dir'], e['filename']))
            else:
                if not want['ok'] or repr(got) != want['value_repr']:
                    failures.append('%s/%s: read %r' % (e['dir'], e['filename'], got))
            if os.path.exists(os.path.join(rd, e['filename'])) != e['file_exists_after_read']:
                failures.append('%s/%s: file kept/deleted wrongly' % (e['dir'], e['filename']))

        failures.extend(check_decorator(manifest, fixtures, work))
        checked += len(manifest['decorator'])
        failures.extend(check_truncated_msgpack(work))
        checked += 1
        failures.extend(check_p5())
        checked += 1
    finally:
        shutil.rmtree(work)
    print(json.dumps({'checked': checked, 'failures': failures, 'patches': bc_compat.APPLIED}))
    sys.exit(1 if failures else 0)


def check_decorator(manifest, fixtures, work):
    failures = []
    for backend_dir, backend in (('pickle', bucketcache.PickleBackend),
                                 ('json', bucketcache.JSONBackend),
                                 ('msgpack', bucketcache.MessagePackBackend)):
        out = os.path.join(work, 'decorator', backend_dir)
        os.makedirs(out)
        bucket = bucketcache.Bucket(out, backend=backend)

        @bucket
        def add(a, b=2):
            return a + b

        @bucket(ignore=['verbose'], nocache='refresh')
        def mul(a, b, verbose=False, refresh=False):
            return a * b

        class Point(object):
            def __init__(self, x, y):
                self.x = x
                self.y = y

            @bucket(method=True)
            def scaled(self, k=1):
                return [self.x * k, self.y * k]

        results = [add(1), add(1, b=5), Point(1, 2).scaled(3), mul(3, 4, verbose=True)]
        expected = [d for d in manifest['decorator'] if d['dir'] == 'decorator/' + backend_dir]
        if [d['result'] for d in expected] != results:
            failures.append('decorator/%s: results %r' % (backend_dir, results))
        made = sorted(os.listdir(out))
        if made != sorted(d['filename'] for d in expected):
            failures.append('decorator/%s: files %r' % (backend_dir, made))
        for name in made:
            with open(os.path.join(out, name), 'rb') as f, \
                    open(os.path.join(fixtures, 'decorator', backend_dir, name), 'rb') as g:
                if f.read() != g.read():
                    failures.append('decorator/%s/%s: bytes differ' % (backend_dir, name))
    return failures


def check_truncated_msgpack(work):
    """P4: a truncated msgpack file is a miss (KeyError) and is kept, as with msgpack 0.x."""
    d = os.path.join(work, 'truncated')
    os.makedirs(d)
    b = bucketcache.Bucket(d, backend=bucketcache.MessagePackBackend)
    b['k'] = 'value'
    path = str(b._path_for_key('k'))
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-3])
    fresh = bucketcache.Bucket(d, backend=bucketcache.MessagePackBackend)
    try:
        fresh['k']
    except KeyError:
        return [] if os.path.exists(path) else ['truncated msgpack: file deleted']
    return ['truncated msgpack: read a value']


def check_p5():
    """With P5, a datetime key hashes as its repr, as on Python <= 3.10 (reference 1.9)."""
    dump = b''.join(bucketcache.keymakers.DefaultKeyMaker().make_key(
        _dt.datetime(2020, 1, 2, 3, 4, 5)))
    p5 = 'P5' in bc_compat.APPLIED or not hasattr(object, '__getstate__')
    want = b'"datetime.datetime(2020, 1, 2, 3, 4, 5)"' if p5 else b'null'
    return [] if dump == want else ['P5=%s: datetime key bytes %r' % (p5, dump)]


if __name__ == '__main__':
    main()
