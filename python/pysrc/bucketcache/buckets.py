"""Buckets: BucketCache 0.12.1's ``Bucket``, ``DeferredWriteBucket`` and ``deferred_write``.

The object model is the original's (an in-memory dict of backend objects, the same read
algorithm, the same names); the storage under it is the Rust core's (``bucketcache._native``):
atomic writes, reads and removals through a store (``fs``, ``lmdb``, ``redis://…``), the md5
naming, cross-process locks for memoized calls, and disk budgets.
"""
import datetime as _datetime_module
import inspect
import io
import locale
import os
import pickle
import threading
from collections import namedtuple
from collections.abc import Container
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from . import _native
from . import backends as _backends_module
from .backends import (
    Backend, JSONBackend, MessagePackBackend, NamedBytesIO, PickleBackend, _utcnow)
from .exceptions import (
    BackendLoadError, KeyExpirationError, KeyFileNotFoundError, KeyInvalidError)
from .keymakers import DefaultKeyMaker, default_key_text
from .log import log_handled_exception, logger, logger_config
from .utilities import DecoratorFactory, PrunedFilesInfo, raise_invalid_keys

__all__ = ('Bucket', 'DeferredWriteBucket', 'deferred_write')

#: The in-memory layer's default bound, in bytes of encoded entries (the Rust core's default).
DEFAULT_MEMORY_LIMIT = 64 << 20
#: How long a memoized call waits, by default, for another process computing the same call.
DEFAULT_SINGLE_FLIGHT_TIMEOUT = 300.0
_ENTRY_OVERHEAD = 96
_EPOCH = datetime(1970, 1, 1)
_digest = _native.digest
_key_digest = _native.key_digest
_HAS_EXPIRED = Backend.has_expired
_PICKLE_FROM_FILE = PickleBackend.__dict__['from_file']
_pickle_loads = pickle.loads
_new_object = object.__new__
_PICKLE_DICT = PickleBackend.__dict__
_DEFAULT_CONFIGS = _backends_module._DEFAULT_CONFIGS
_FORMATS = ((PickleBackend, 'pickle'), (JSONBackend, 'json'), (MessagePackBackend, 'msgpack'))


def _fast_pickle_load(data, state):
    """A `PickleBackend` object from an entry's bytes, as `Bucket._load` builds it with the
    default config, or `None` when the bytes are not a plain envelope (the general path then
    decides: an error, a miss, or the original's constructor).

    With `state` (`NativeStore.lookup` found the envelope's naive expiration date as the
    stream's last item), `data` is the stream with that date replaced by `None`, and the date
    is built here as unpickling builds it: ``datetime.datetime(state)`` (the original's
    protocol-2 bytes otherwise spend half the unpickling on two imports and a
    ``_codecs.encode`` call)."""
    try:
        d = _pickle_loads(data, encoding='ASCII')
    except Exception:
        return None
    if type(d) is dict and len(d) == 2 and 'value' in d and 'expiration_date' in d:
        if state is None:
            exp = d['expiration_date']
        elif d['expiration_date'] is None:
            try:
                exp = _datetime_module.datetime(state)
            except Exception:
                return None
        else:
            return None
        obj = _new_object(PickleBackend)
        obj.value = d['value']
        obj.expiration_date = exp
        config = _DEFAULT_CONFIGS.get(PickleBackend.default_config)
        obj.config = config if config is not None else PickleBackend.valid_config(None)
        return obj
    return None


class Stats(namedtuple('Stats', [
        'memory_hits', 'store_hits', 'misses', 'expired', 'sets', 'removes',
        'memory_evictions', 'store_evictions', 'memory_bytes', 'store_bytes',
        'store_entries'])):
    """What a bucket did since it was opened (the Rust core's ``Stats``, same fields).

    A lookup is counted once: a memory hit, a store hit, or a miss (an expired entry is a miss
    and is also counted in ``expired``). ``store_bytes``/``store_entries`` are the disk
    budget's last count (``None`` without a budget).
    """
    __slots__ = ()

    @property
    def hits(self):
        return self.memory_hits + self.store_hits

    @property
    def evictions(self):
        return self.memory_evictions + self.store_evictions


class _Counters(object):
    __slots__ = ('memory_hits', 'store_hits', 'misses', 'expired', 'sets', 'removes',
                 'memory_evictions')

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)


class Bucket(Container):
    """Dictionary-like object backed by a file cache.

    Parameters:
        path: Directory for storing cached objects. Will be created if missing
              (for a Redis store: the namespace).
        backend: Backend class. Default:
                 :py:class:`~bucketcache.backends.PickleBackend`
        config: `Config` instance for backend.
        keymaker: `KeyMaker` instance for object -> key serialization.
        lifetime: Key lifetime.
        kwargs: Keyword arguments to pass to :py:class:`datetime.timedelta`
                as shortcut for lifetime.

    Additions (keyword only; names as in the Rust ``BucketBuilder``):
        store: ``"fs"`` (default: one file per key, shared with BucketCache 0.12.1),
               ``"lmdb"``, or a Redis URL ``"redis://host:6379/0"``.
        store_options: the store's own options (a dict, e.g. Redis timeouts).
        max_entry_bytes: the largest entry written or read (default 256 MiB).
        durable: sync each write to disk before it returns (default False).
        memory_limit: bound of the in-memory layer in bytes of encoded entries (default
                      64 MiB; ``None``: unbounded as in the original).
        max_bytes, max_entries: a disk budget; over it, the least recently used entries are
                      evicted down to 90%.
        single_flight_across_processes: a memoized miss is computed once per cache: other
                      threads and processes wait for it and read the result (default True).
        single_flight_timeout: seconds a memoized call waits for another's computation.
    """

    def __init__(self, path, backend=None, config=None, keymaker=None,
                 lifetime=None, *, store='fs', store_options=None, max_entry_bytes=None,
                 durable=False, memory_limit=DEFAULT_MEMORY_LIMIT, max_bytes=None,
                 max_entries=None, single_flight_across_processes=True,
                 single_flight_timeout=DEFAULT_SINGLE_FLIGHT_TIMEOUT, **kwargs):
        if kwargs:
            valid_kwargs = {'days', 'seconds', 'microseconds', 'milliseconds',
                            'minutes', 'hours', 'weeks'}
            passed_kwargs = set(kwargs)

            raise_invalid_keys(valid_kwargs, passed_kwargs,
                               'Invalid lifetime argument{s}: {keys}')

            if lifetime:
                raise ValueError("either 'lifetime' or lifetime arguments "
                                 "('seconds', 'minutes', ...) can be passed, "
                                 "but not both.")
            lifetime = timedelta(**kwargs)

        self._cache = dict()

        store = 'fs' if store is None else str(store)
        _path = Path(path)
        if '://' not in store:
            try:
                _path.mkdir()
            except OSError:
                pass
            self._path = _path.resolve()
        else:
            self._path = _path

        if backend is not None:
            self.backend = backend
        else:
            self.backend = PickleBackend

        self.config = config

        if keymaker is None:
            keymaker = DefaultKeyMaker()

        self.keymaker = keymaker

        self.lifetime = lifetime

        self._options = dict(
            store=store, store_options=store_options, max_entry_bytes=max_entry_bytes,
            durable=durable, memory_limit=memory_limit, max_bytes=max_bytes,
            max_entries=max_entries,
            single_flight_across_processes=single_flight_across_processes,
            single_flight_timeout=single_flight_timeout)
        self._memory_limit = None if memory_limit is None else int(memory_limit)
        self._weights = {}
        self._memory_bytes = 0
        self._single_flight = bool(single_flight_across_processes)
        self._single_flight_timeout = float(single_flight_timeout)
        self._counters = _Counters()
        self._store = _open_store(self._path, store, store_options, max_entry_bytes, durable,
                                  max_bytes, max_entries)
        self._plain = self._store.is_plain_directory
        self._dir = str(self._path)

    # -- properties ---------------------------------------------------------------------------

    @property
    def path(self):
        return self._path

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, value):
        error = TypeError("'backend' must inherit from "
                          "bucketcache.Backend")
        if inspect.isclass(value):
            if not issubclass(value, Backend):
                raise error
        else:
            raise error

        value.check_concrete()
        self._backend = value
        self._backend_name = value.__name__.encode('utf-8')
        self._suffix = '.' + value.file_extension
        self._suffix_bytes = self._suffix.encode('utf-8')

    @property
    def lifetime(self):
        return self._lifetime

    @lifetime.setter
    def lifetime(self, value):
        if value is not None and value < timedelta(0):
            raise ValueError('lifetime cannot be negative.')
        if not value:
            self._lifetime = None
        else:
            if not isinstance(value, timedelta):
                raise TypeError('lifetime must be type datetime.timedelta '
                                '(or a subclass)')
            self._lifetime = value

    # -- the mapping protocol -----------------------------------------------------------------

    def __contains__(self, item):
        try:
            self[item]
        except KeyError:
            return False
        else:
            return True

    def __setitem__(self, key, value):
        self._store_value(self._hash_for_key(key), value)

    def setitem(self, key, value):
        """Provide setitem method as alternative to ``bucket[key] = value``"""
        return self.__setitem__(key, value)

    def _store_value(self, key_hash, value):
        """Sets `value` under `key_hash`; a failed write changes nothing, in memory or in the
        store."""
        if key_hash not in self._cache:
            # Not in memory: a new object (what the lookup below concludes, without raising).
            obj = self.backend(value, config=self.config)
            obj.expiration_date = self._object_expiration_date()
            self._set_obj_with_hash(key_hash, obj)
            return
        try:
            obj = self._get_obj_from_hash(key_hash, load_file=False)
        except KeyInvalidError:
            obj = self.backend(value, config=self.config)
            obj.expiration_date = self._object_expiration_date()
            self._set_obj_with_hash(key_hash, obj)
            return
        old = obj.value, obj.expiration_date
        obj.value = value
        obj.expiration_date = self._object_expiration_date()
        try:
            self._set_obj_with_hash(key_hash, obj)
        except BaseException:
            obj.value, obj.expiration_date = old
            raise

    def _update_or_make_obj_with_hash(self, key_hash, value):
        try:
            obj = self._get_obj_from_hash(key_hash, load_file=False)
            obj.value = value
        except KeyInvalidError:
            obj = self.backend(value, config=self.config)

        obj.expiration_date = self._object_expiration_date()
        return obj

    def _set_obj_with_hash(self, key_hash, obj):
        data = self._dump(obj)
        exp = obj.expiration_date
        expires = None if (self._plain or not exp) else (exp - _EPOCH).total_seconds()
        self._store.write(key_hash + self._suffix, data, expires)
        self._counters.sets += 1
        self._remember(key_hash, obj, len(data))

    def __getitem__(self, key):
        km = self.keymaker
        if (type(km) is DefaultKeyMaker and km.sort_keys is True and logger.disabled
                and self._backend is PickleBackend and self.config is None
                and _PICKLE_DICT.get('from_file') is _PICKLE_FROM_FILE
                and PickleBackend.has_expired is _HAS_EXPIRED
                and type(self)._get_obj_from_hash is _GET_OBJ_FROM_HASH):
            # The default configuration: naming, the memory lookup and the read in one Rust
            # call, the entry decoded and checked here. A fresh entry returns here, a missing
            # one is a miss; anything else (expired, unusual, undecodable) takes the general
            # path below, which reads again and decides as it always did.
            # The key's text made in Rust for plain keys (str, int, bool, None and lists, tuples
            # and str-keyed dicts of them); `None` leaves it to the Python encoder.
            found = self._store.lookup_key(
                self._cache, self._backend_name, key, self._suffix_bytes)
            if found is None:
                found = self._store.lookup(
                    self._cache, self._backend_name, default_key_text(key).encode('utf-8'),
                    self._suffix_bytes)
            key_hash, obj, data, size, state = found
            if data is not None:
                obj = _fast_pickle_load(data, state)
            elif obj is None:
                self._counters.misses += 1
                raise KeyError(self._abbreviate(key))
            if type(obj) is PickleBackend:
                # The general path's expiry rules (a lifetime, or the entry's own date).
                exp = obj.expiration_date
                lifetime = self._lifetime
                if lifetime:
                    if exp:
                        now = _utcnow()
                        fresh = now <= exp <= now + lifetime
                    else:
                        fresh = False
                else:
                    fresh = not exp or _backends_module._utcnow() <= exp  # has_expired's
                if fresh:
                    if data is None:
                        self._counters.memory_hits += 1
                    else:
                        self._remember(key_hash, obj, size)
                        self._counters.store_hits += 1
                    return obj.value
        else:
            key_hash = self._hash_for_key(key)
        try:
            obj = self._get_obj_from_hash(key_hash)
        except KeyInvalidError:
            raise KeyError(self._abbreviate(key))
        return obj.value

    def getitem(self, key):
        """Provide getitem method as alternative to ``bucket[key]``."""
        return self.__getitem__(key)

    def _get_obj(self, key):
        key_hash = self._hash_for_key(key)
        try:
            obj = self._get_obj_from_hash(key_hash)
        except KeyInvalidError:
            raise KeyError(self._abbreviate(key))
        else:
            return obj

    def _get_obj_from_hash(self, key_hash, load_file=True):
        obj = self._cache.get(key_hash)
        counters = self._counters
        if obj is not None:
            from_memory = True
        elif load_file:
            from_memory = False
            name = key_hash + self._suffix
            if not logger.disabled:
                logger.info('Attempt load from file: %s', self._path / name)
            try:
                data = self._store.read(name)
            except OSError:
                if not logger.disabled:
                    logger.exception('Unexpected exception trying to load file: %s', name)
                raise
            if data is None:
                counters.misses += 1
                msg = 'File not found: {}'.format(self._path / name)
                log_handled_exception(msg)
                raise KeyFileNotFoundError(msg)
            try:
                obj = self._load(data, name)
            except BackendLoadError:
                counters.misses += 1
                msg = 'Backend {} failed to load file: {}'.format(self.backend, self._path / name)
                log_handled_exception(msg)
                raise KeyInvalidError(msg)
            except Exception:
                if not logger.disabled:
                    logger.exception('Unhandled exception trying to load file: %s', name)
                raise
            self._remember(key_hash, obj, len(data))
        else:
            raise KeyInvalidError("<key hash not found in internal "
                                  "cache '{}'>".format(key_hash))

        lifetime = self._lifetime
        if lifetime:
            # If object expires after now + lifetime, then it was saved with a
            # previous Bucket() with a longer lifetime. Let's expire the key.
            exp = obj.expiration_date
            if not exp:
                lifetime_changed = True
            else:
                now = _utcnow()
                lifetime_changed = exp > now + lifetime
                if not lifetime_changed and type(obj).has_expired is _HAS_EXPIRED:
                    # Backend.has_expired, with the clock read once.
                    if now > exp:
                        lifetime_changed = None  # expired (not a lifetime change)
                    elif load_file:
                        if from_memory:
                            counters.memory_hits += 1
                        else:
                            counters.store_hits += 1
                        return obj
                    else:
                        return obj
            if lifetime_changed and not logger.disabled:
                logger.warning('Object expires after now + current lifetime. '
                               'Object must have been saved with previous '
                               'cache settings. Expiring key.')
        else:
            lifetime_changed = False

        if lifetime_changed is None or lifetime_changed or obj.has_expired():
            self._remove_expired(key_hash, None if from_memory else data)
            self._forget(key_hash)
            if load_file:
                counters.misses += 1
                counters.expired += 1
            raise KeyExpirationError("<key hash '{}'>".format(key_hash))

        if load_file:
            if from_memory:
                counters.memory_hits += 1
            else:
                counters.store_hits += 1
        return obj

    def _remove_expired(self, key_hash, loaded):
        """Deletes the expired entry `key_hash` on the evidence of what the store holds now:
        the Rust core decodes it again (built-in formats) and applies its expiry rule, with
        this bucket's clock and lifetime, so a fresh entry another process wrote meanwhile
        stays."""
        backend = self.backend
        fmt = None
        if getattr(backend.from_file, '_bc_reads_bytes', False) is True:
            for cls, name in _FORMATS:
                if issubclass(backend, cls) and backend.file_extension == cls.file_extension:
                    fmt = name
                    break
        lifetime = self._lifetime
        self._store.remove_expired(
            key_hash + self._suffix, fmt, _utcnow().isoformat(),
            None if lifetime is None else lifetime.total_seconds(), loaded)

    def __delitem__(self, key):
        key_hash = self._hash_for_key(key)
        if key in self:
            self._store.remove(key_hash + self._suffix)
            self._forget(key_hash)
            self._counters.removes += 1
        else:
            raise KeyError(self._abbreviate(key))

    def prune_directory(self):
        """Delete any objects that can be loaded and are expired according to
        the current lifetime setting.

        A file will be deleted if the following conditions are met:

        - The file extension matches :py:meth:`bucketcache.backends.Backend.file_extension`
        - The object can be loaded by the configured backend.
        - The object's expiration date has passed.

        Returns:
            File size and number of files deleted.

        :rtype: :py:class:`~bucketcache.utilities.PrunedFilesInfo`
        """
        totalsize = 0
        totalnum = 0
        cut = len(self._suffix)
        for name, filesize in self._store.list(self.backend.file_extension):
            key_hash = name[:-cut]
            in_cache = key_hash in self._cache
            try:
                self._get_obj_from_hash(key_hash)
            except KeyExpirationError:
                totalsize += filesize
                totalnum += 1
            except KeyInvalidError:
                pass
            else:
                if not in_cache:
                    self._forget(key_hash)
        return PrunedFilesInfo(size=totalsize, num=totalnum)

    def unload_key(self, key):
        """Remove key from memory, leaving file in place."""
        key_hash = self._hash_for_key(key)
        if key in self:
            self._forget(key_hash)

    # -- additions ------------------------------------------------------------------------------

    def stats(self):
        """Counters of what this bucket did since it was opened: a :py:class:`Stats`."""
        c = self._counters
        native = self._store.stats()
        return Stats(
            memory_hits=c.memory_hits, store_hits=c.store_hits, misses=c.misses,
            expired=c.expired, sets=c.sets, removes=c.removes,
            memory_evictions=c.memory_evictions,
            store_evictions=native['store_evictions'], memory_bytes=self._memory_bytes,
            store_bytes=native['store_bytes'], store_entries=native['store_entries'])

    def shrink_to(self, max_bytes=None, max_entries=None):
        """Evicts the least recently used entries (of every built-in backend) until the
        location holds at most `max_bytes` bytes and `max_entries` entries."""
        size, num = self._store.shrink_to(max_bytes, max_entries)
        return PrunedFilesInfo(size=size, num=num)

    @property
    def store(self):
        """The store's name: ``fs``, ``lmdb`` or ``redis``."""
        return self._store.name

    # -- the decorator --------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        """Use Bucket instance as a decorator.

        .. code:: python

            @bucket
            def fun(...):
                ...

        Use `method=True` for instance methods, `nocache='argname'` for an
        argument that can skip the cache, `ignore=['argname', ...]` for
        arguments that are not part of the key.
        """
        f = None
        default_kwargs = {'method': False, 'nocache': None, 'ignore': None}

        error = ('To use an instance of {}() as a decorator, '
                 'use @bucket or @bucket(<args>) '
                 '(See documentation)'.format(self.__class__.__name__))

        if len(args) + len(kwargs) < 1:
            # We need f or decorator arguments
            raise TypeError(error)

        if len(args) == 1:
            # Positional arg must be the to-be-wrapped function.
            f = args[0]

            # Allow method=True to be omitted when decorating properties, as
            # this can be detected.
            if not callable(f) and not isinstance(f, property):
                raise ValueError(error)
        elif len(args) > 1:
            raise TypeError(error)

        if len(kwargs):
            if len(args):
                raise TypeError(error)

        passed_kwargs = set(kwargs)
        valid_kwargs = set(default_kwargs)
        missing_kwargs = valid_kwargs - passed_kwargs

        raise_invalid_keys(valid_kwargs, passed_kwargs,
                           'Invalid decorator argument{s}: {keys}')

        kwargs.update({k: default_kwargs[k] for k in missing_kwargs})
        method = kwargs['method']
        nocache = kwargs['nocache']
        ignore = kwargs['ignore']

        cf = DecoratorFactory(bucket=self, method=method, nocache=nocache,
                              ignore=ignore)
        if f:
            return cf.decorate(f)

        def make_decorator(f):
            return cf.decorate(f)

        return make_decorator

    def _single_flight_lock(self, key_hash):
        """The cross-process lock of a memoized miss (a context manager), or None."""
        if not self._single_flight:
            return None
        return self._store.lock(key_hash, self._single_flight_timeout)

    # -- naming ---------------------------------------------------------------------------------

    def _path_and_hash_for_key(self, key):
        key_hash = self._hash_for_key(key)
        path = self._path_for_hash(key_hash)
        return path, key_hash

    def _path_for_key(self, key):
        key_hash = self._hash_for_key(key)
        return self._path_for_hash(key_hash)

    def _path_for_hash(self, key_hash):
        filename = '{}.{}'.format(key_hash, self.backend.file_extension)
        return self._path / filename

    def _hash_for_key(self, key):
        km = self.keymaker
        if type(km) is DefaultKeyMaker and km.sort_keys is True:
            if logger.disabled:
                # Plain keys are named in one Rust call (the same text, the same digest).
                digest = _key_digest(self._backend_name, key)
                if digest is not None:
                    return digest
            data = default_key_text(key).encode('utf-8')
        else:
            data = b''.join(km.make_key(key))
        if not logger.disabled:
            dkey = key if logger_config.log_full_keys else self._abbreviate(key)
            logger.debug('_hash_for_key <%s>', dkey)
            if logger_config.log_full_keys:
                logger.debug('_hash_for_key received bytes: %r', data)
        digest = _digest(self._backend_name, data)
        if not logger.disabled:
            logger.debug('_hash_for_key finished with digest %s', digest)
        return digest

    def _hash_for_bytes(self, data):
        return _digest(self._backend_name, data)

    @staticmethod
    def _abbreviate(obj):
        string = repr(obj)
        if len(string) > 80:
            return string[:77] + '...'
        else:
            return string

    def _object_expiration_date(self):
        if self.lifetime:
            return _utcnow() + self.lifetime
        else:
            return None

    @property
    def _read_mode(self):
        return 'rb' if self.backend.binary_format else 'r'

    @property
    def _write_mode(self):
        return 'wb' if self.backend.binary_format else 'w'

    # -- encoding and the in-memory layer -----------------------------------------------------

    def _load(self, data, name):
        backend = self.backend
        if (backend is PickleBackend and self.config is None
                and backend.__dict__.get('from_file') is _PICKLE_FROM_FILE):
            # PickleBackend.from_file with the default config, without its indirections.
            try:
                d = _pickle_loads(data, encoding='ASCII')
            except (pickle.UnpicklingError, AttributeError, EOFError, ImportError,
                    IndexError):
                raise BackendLoadError('{!r} could not be unpickled.'.format(
                    self._dir + os.sep + name))
            if type(d) is dict and len(d) == 2 and 'value' in d and 'expiration_date' in d:
                obj = _new_object(PickleBackend)
                obj.value = d['value']
                obj.expiration_date = d['expiration_date']
                obj.config = PickleBackend.valid_config(None)
                return obj
            return PickleBackend(config=None, **d)
        if getattr(backend.from_file, '_bc_reads_bytes', False) is True:
            return backend._from_bytes(data, self.config, self._dir + os.sep + name)
        fp = NamedBytesIO(data, name=self._dir + os.sep + name)
        if not backend.binary_format:
            fp = io.TextIOWrapper(fp, encoding=locale.getpreferredencoding(False))
        return backend.from_file(fp, config=self.config)

    def _dump(self, obj):
        if getattr(obj.dump, '_bc_writes_bytes', False) is True:
            return obj._to_bytes()
        if self.backend.binary_format:
            fp = io.BytesIO()
            obj.dump(fp)
            return fp.getvalue()
        fp = io.StringIO()
        obj.dump(fp)
        return fp.getvalue().encode(locale.getpreferredencoding(False))

    def _remember(self, key_hash, obj, size):
        self._cache[key_hash] = obj
        limit = self._memory_limit
        if limit is None:
            return
        weight = size + _ENTRY_OVERHEAD
        self._memory_bytes += weight - self._weights.get(key_hash, 0)
        self._weights[key_hash] = weight
        if self._memory_bytes > limit:
            self._evict_memory(key_hash, limit - limit // 10)

    def _evict_memory(self, keep, target):
        cache = self._cache
        weights = self._weights
        for stale in [h for h in weights if h not in cache]:
            self._memory_bytes -= weights.pop(stale)
        for h in list(cache):
            if self._memory_bytes <= target:
                break
            if h == keep:
                continue
            cache.pop(h, None)
            self._memory_bytes -= weights.pop(h, 0)
            self._counters.memory_evictions += 1

    def _forget(self, key_hash):
        self._cache.pop(key_hash, None)
        weight = self._weights.pop(key_hash, None)
        if weight:
            self._memory_bytes -= weight

    def __repr__(self):
        parts = ['path={!r}'.format(str(self.path)), 'config={!r}'.format(self.config),
                 'backend={}'.format(self.backend.__name__)]
        if self.lifetime:
            for attr in ('days', 'seconds', 'microseconds'):
                value = getattr(self.lifetime, attr)
                if value:
                    parts.append('{}={!r}'.format(attr, value))
        return '{}({})'.format(type(self).__name__, ', '.join(parts))


_STORES = {}
_STORES_LOCK = threading.Lock()


_GET_OBJ_FROM_HASH = Bucket._get_obj_from_hash


def _open_store(path, store, store_options, max_entry_bytes, durable, max_bytes, max_entries):
    """The native store for these settings: one per process and settings, shared by buckets
    (a disk budget counts a location once)."""
    import json
    options = None if store_options is None else json.dumps(store_options, sort_keys=True)
    key = (os.getpid(), str(path), store, options, max_entry_bytes, durable, max_bytes,
           max_entries)
    with _STORES_LOCK:
        native = _STORES.get(key)
        if native is None:
            native = _native.NativeStore(str(path), store, options, max_entry_bytes, durable,
                                         max_bytes, max_entries)
            _STORES[key] = native
        return native


class DeferredWriteBucket(Bucket):
    """Alternative implementation of :py:class:`~bucketcache.buckets.Bucket`
    that defers writing to file until
    :py:meth:`~bucketcache.buckets.DeferredWriteBucket.sync` is called.
    """
    @classmethod
    def from_bucket(cls, bucket):
        options = dict(getattr(bucket, '_options', {}))
        self = cls(path=bucket.path, backend=bucket.backend,
                   config=bucket.config, keymaker=bucket.keymaker,
                   lifetime=bucket.lifetime, **options)
        self._cache = bucket._cache
        self._weights = bucket._weights
        return self

    def __init__(self, *args, **kwargs):
        super(DeferredWriteBucket, self).__init__(*args, **kwargs)
        # Unsynced entries live only in memory: never evicted.
        self._memory_limit = None

    def _set_obj_with_hash(self, key_hash, obj):
        """Reimplement Bucket._set_obj_with_hash to skip writing to file."""
        self._cache[key_hash] = obj

    def _single_flight_lock(self, key_hash):
        return None

    def unload_key(self, key):
        """Remove key from memory, leaving file in place.

        This forces :py:meth:`~bucketcache.buckets.DeferredWriteBucket.sync`.
        """
        self.sync()
        return super(DeferredWriteBucket, self).unload_key(key)

    def sync(self):
        """Commit deferred writes to file."""
        for key_hash, obj in list(self._cache.items()):
            # Objects are checked for expiration in __getitem__,
            # but we can check here to avoid unnecessary writes.
            if not obj.has_expired():
                Bucket._set_obj_with_hash(self, key_hash, obj)


@contextmanager
def deferred_write(bucket):
    """Context manager for deferring writes of a :py:class:`Bucket` within a
    block.

    When the context is closed, the stored objects are written to file, also when the block
    raises (the original wrote nothing then, while its memory held the values).

    .. code-block:: python

       bucket = Bucket(path)

       with deferred_write(bucket) as deferred:
           deferred[key] = value
           ...
    """
    deferred_write_bucket = DeferredWriteBucket.from_bucket(bucket)
    try:
        yield deferred_write_bucket
    finally:
        deferred_write_bucket.sync()
