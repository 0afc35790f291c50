"""Stage timing of the Python package's get and set paths (bench/RESULTS.md, issue 24):
each stage of a cold get / set timed alone over the same 2000 keys, medians in µs.

    target/python-venv/bin/python bench/python_stages.py /dev/shm/stages        # file store
    target/python-venv/bin/python bench/python_stages.py /tmp/stages-lmdb lmdb  # LMDB store

Use a fresh directory each time (it writes 2000 entries there).
"""
import os
import pickle
import statistics
import sys
import time

import bucketcache
from bucketcache.keymakers import default_key_text

d = sys.argv[1]
store = sys.argv[2] if len(sys.argv) > 2 else 'fs'
n = 2000


def value(i):
    return {"id": i, "name": "user %08d" % i, "email": "user%08d@example.com" % i,
            "score": 0.9375, "active": True, "tags": ["admin", "ops"]}


vals = [value(i) for i in range(n)]


def med(f, rng):
    s = []
    for i in rng:
        t = time.perf_counter()
        f(i)
        s.append((time.perf_counter() - t) * 1e6)
    return statistics.median(s)
b = bucketcache.Bucket(d, hours=1, store=store)
print("set", med(lambda i: b.__setitem__(("user", i), vals[i]), range(n)))
cold = bucketcache.Bucket(d, hours=1, store=store)
print("get cold", med(lambda i: cold[("user", i)], range(n)))
print("get warm", med(lambda i: cold[("user", i)], range(n)))
# stages
print("key text", med(lambda i: default_key_text(("user", i)).encode(), range(n)))
print("hash_for_key", med(lambda i: cold._hash_for_key(("user", i)), range(n)))
hashes = [cold._hash_for_key(("user", i)) for i in range(n)]
st = cold._store
print("native read", med(lambda i: st.read(hashes[i] + '.pickle'), range(n)))
datas = [st.read(h + '.pickle') for h in hashes]
print("pickle.loads", med(lambda i: pickle.loads(datas[i]), range(n)))
print("_load", med(lambda i: cold._load(datas[i], hashes[i] + '.pickle'), range(n)))
objs = [cold._load(datas[i], hashes[i]+'.pickle') for i in range(n)]
print("has_expired", med(lambda i: objs[i].has_expired(), range(n)))
print("_dump", med(lambda i: cold._dump(objs[i]), range(n)))
print("native write", med(lambda i: st.write(hashes[i] + '.pickle', datas[i], None), range(n)))
if store == 'fs':
    def raw(i):
        p = os.path.join(d, hashes[i] + '.pickle'); tmp = p + '.tmp'
        fd = os.open(tmp, os.O_WRONLY|os.O_CREAT|os.O_TRUNC, 0o644); os.write(fd, datas[i]); os.close(fd); os.rename(tmp, p)
    print("raw py create+write+rename", med(raw, range(n)))
    def rawread(i):
        fd = os.open(os.path.join(d, hashes[i] + '.pickle'), os.O_RDONLY); os.read(fd, 1<<16); os.close(fd)
    print("raw py open+read+close", med(rawread, range(n)))
print("obj construct", med(lambda i: bucketcache.PickleBackend(vals[i], None), range(n)))
