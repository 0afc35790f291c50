"""Backends: the format of a cache file. The built-in three write exactly the bytes
BucketCache 0.12.1 wrote (they use Python's own pickle, json and msgpack, with the original's
settings); a backend written in Python subclasses :py:class:`Backend` as before.
"""
import io
import json
import pickle
import sys
from abc import ABCMeta, abstractmethod
from datetime import datetime, timezone

from .config import BackendConfig, JSONConfig, MessagePackConfig, PickleConfig
from .exceptions import BackendLoadError
from .utilities import raise_invalid_keys, raise_keys

try:
    import msgpack
    msgpack_available = True
except ImportError:  # pragma: no cover - msgpack is a dependency
    msgpack = None
    msgpack_available = False

__all__ = (
    'PickleBackend',
    'JSONBackend',
    'MessagePackBackend',
)

if sys.version_info >= (3, 12):
    def _utcnow(_now=datetime.now, _utc=timezone.utc):
        """Naive UTC now, as the original's ``datetime.utcnow()`` (deprecated in 3.12)."""
        return _now(_utc).replace(tzinfo=None)
else:
    _utcnow = datetime.utcnow


def _parse_date(text):
    """An expiration as the original read it (dateutil's parser: lenient)."""
    if len(text) in (19, 26) and text[10:11] == 'T':
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    from dateutil.parser import parse
    return parse(text)


class NamedBytesIO(io.BytesIO):
    """The file object a backend's ``from_file`` reads: the entry's bytes, with a ``name``."""
    def __init__(self, data=b'', name=None):
        super().__init__(data)
        self.name = name


# Backend classes found concrete, and (class, config) pairs found valid: checked once each.
_CONCRETE = set()
_VALIDATED = {}
_DEFAULT_CONFIGS = {}


def _reads_bytes(f):
    f._bc_reads_bytes = True
    return f


def _writes_bytes(f):
    f._bc_writes_bytes = True
    return f


class Backend(metaclass=ABCMeta):
    """Abstract base class for backends.

    Classes must implement abstract attributes:

    - :py:attr:`binary_format`
    - :py:attr:`default_config`
    - :py:attr:`file_extension`

    and abstract methods:

    - :py:meth:`dump`
    - :py:meth:`from_file`
    """
    abstract_attributes = {'binary_format', 'default_config', 'file_extension'}

    def __init__(self, value, expiration_date=None, config=None):
        if self.__class__ not in _CONCRETE:
            self.__class__.check_concrete(skip_methods=True)
            _CONCRETE.add(self.__class__)

        self.value = value
        self.expiration_date = expiration_date
        self.config = self.valid_config(config)

    @classmethod
    def check_concrete(cls, skip_methods=False):
        """Verify that we're a concrete class.

        Check that abstract methods have been overridden, and verify that
        abstract class attributes exist.
        """
        if not skip_methods and cls.__abstractmethods__:
            raise_keys(cls.__abstractmethods__, "Concrete class '{}' missing "
                       "abstract method{{s}}: {{keys}}".format(cls.__name__))

        missing = {name
                   for name in Backend.abstract_attributes
                   if not hasattr(cls, name)}
        if missing:
            raise_keys(missing, "Concrete class '{}' missing abstract"
                       "attribute{{s}}: {{keys}}".format(cls.__name__))

    @classmethod
    def valid_config(cls, config):
        """Verify passed config, or return `default_config`."""
        if config is None:
            # One default instance per config class, shared by the objects that use it.
            default_config = _DEFAULT_CONFIGS.get(cls.default_config)
            if default_config is None:
                default_config = _DEFAULT_CONFIGS[cls.default_config] = cls.default_config()
            return default_config
        if _VALIDATED.get((cls, id(config))) is config:
            return config
        default_config = cls.default_config()
        if config is not None:
            valid_config = set(default_config.asdict())
            passed_config = set(config.asdict())
            raise_invalid_keys(valid_config, passed_config,
                               'Invalid config parameter{s}: {keys}')
            if len(_VALIDATED) < 1024:
                _VALIDATED[(cls, id(config))] = config
            return config
        else:
            return default_config

    def has_expired(self):
        """Determine if value held by this instance has expired.

        Returns False if object does not expire.
        """
        if self.expiration_date:
            return _utcnow() > self.expiration_date
        else:
            return False

    @classmethod
    @abstractmethod
    def from_file(cls, fp, config=None):
        """Class method for instantiating from file.

        If the appropriate data cannot be read from `fp`, this method should
        raise :py:exc:`~bucketcache.exceptions.BackendLoadError` to inform
        the bucket that this cached file cannot be used.
        """
        raise NotImplementedError

    @abstractmethod
    def dump(self, fp):
        """Called to save state to file.

        Attributes `value` and `expiration_date` should be saved, so that
        :py:meth:`from_file` can use them.
        """
        raise NotImplementedError

    def __repr__(self):
        return '{}(value={!r}, expiration_date={!r}, config={!r})'.format(
            type(self).__name__, self.value, self.expiration_date, self.config)


class PickleBackend(Backend):
    """Backend that serializes objects using Pickle."""
    binary_format = True
    default_config = PickleConfig
    file_extension = 'pickle'

    @classmethod
    def _from_bytes(cls, data, config=None, name=None):
        if config is not None:
            config = cls.valid_config(config)
        if config is None or (type(config) is PickleConfig and config.encoding == 'ASCII'
                              and config.errors == 'strict' and config.fix_imports is True):
            kwargs = None
        else:
            dconfig = config.asdict()
            kwargs = {k: dconfig[k] for k in ('fix_imports', 'encoding', 'errors')}
        try:
            if kwargs is None:
                data = pickle.loads(data, encoding='ASCII')
            else:
                data = pickle.loads(data, **kwargs)
        except (pickle.UnpicklingError, AttributeError, EOFError, ImportError,
                IndexError):
            raise BackendLoadError('{!r} could not be unpickled.'.format(name))
        return cls(config=config, **data)

    @classmethod
    @_reads_bytes
    def from_file(cls, fp, config=None):
        return cls._from_bytes(fp.read(), config, getattr(fp, 'name', None))

    def _to_bytes(self):
        config = self.config
        data = {'value': self.value, 'expiration_date': self.expiration_date}
        return pickle.dumps(data, protocol=config.protocol, fix_imports=config.fix_imports)

    @_writes_bytes
    def dump(self, fp):
        fp.write(self._to_bytes())


class JSONBackend(Backend):
    """Backend that stores objects using JSON."""
    binary_format = False
    default_config = JSONConfig
    file_extension = 'json'

    @classmethod
    def _from_bytes(cls, data, config=None, name=None):
        if config is None:
            kwargs = {}
        else:
            dconfig = cls.valid_config(config).asdict()
            kwargs = {k: dconfig[k] for k in ('object_hook', 'parse_float', 'parse_int',
                                              'parse_constant', 'object_pairs_hook')
                      if dconfig[k] is not None}
            if dconfig['load_cls'] is not None:
                kwargs['cls'] = dconfig['load_cls']
        try:
            data = json.loads(data.decode('utf-8'), **kwargs)
        except ValueError:
            raise BackendLoadError('json file {!r} could not be loaded.'.format(name))
        value = data['value']
        expiration_date = data['expiration_date']
        if expiration_date:
            expiration_date = _parse_date(expiration_date)
        return cls(config=config, value=value, expiration_date=expiration_date)

    @classmethod
    @_reads_bytes
    def from_file(cls, fp, config=None):
        data = fp.read()
        if isinstance(data, str):
            data = data.encode('utf-8', 'surrogateescape')
        return cls._from_bytes(data, config, getattr(fp, 'name', None))

    def _to_text(self):
        if self.expiration_date:
            expiration_date = self.expiration_date.isoformat()
        else:
            expiration_date = None
        data = {'value': self.value, 'expiration_date': expiration_date}
        config = self.config
        if type(config) is JSONConfig and not _json_config_changed(config):
            return json.dumps(data)
        dconfig = config.asdict()
        kwargs = {k: dconfig[k] for k in ('skipkeys', 'ensure_ascii', 'check_circular',
                                          'allow_nan', 'indent', 'separators', 'default',
                                          'sort_keys')}
        kwargs['cls'] = dconfig['dump_cls']
        return json.dumps(data, **kwargs)

    def _to_bytes(self):
        return self._to_text().encode('utf-8')

    @_writes_bytes
    def dump(self, fp):
        fp.write(self._to_text())


_JSON_DEFAULTS = JSONConfig().asdict()


def _json_config_changed(config):
    d = config.__dict__
    for k in ('skipkeys', 'ensure_ascii', 'check_circular', 'allow_nan', 'indent',
              'separators', 'default', 'sort_keys', 'dump_cls'):
        if d.get(k) is not _JSON_DEFAULTS[k] and d.get(k) != _JSON_DEFAULTS[k]:
            return True
    return False


class _LoadError(Exception):
    pass


class MessagePackBackend(Backend):
    """Backend that stores objects using MessagePack."""
    binary_format = True
    default_config = MessagePackConfig
    file_extension = 'msgpack'

    def __init__(self, *args, **kwargs):
        if not msgpack_available:
            raise TypeError("Please install 'msgpack-python' from PyPI.")

        super(MessagePackBackend, self).__init__(*args, **kwargs)

    @classmethod
    def _from_bytes(cls, data, config=None, name=None):
        if not msgpack_available:
            raise TypeError("Please install 'msgpack-python' from PyPI.")
        if config is None:
            kwargs = {'use_list': 1}
        else:
            dconfig = cls.valid_config(config).asdict()
            kwargs = {k: dconfig[k] for k in ('object_hook', 'list_hook', 'object_pairs_hook')
                      if dconfig[k] is not None}
            kwargs['use_list'] = dconfig['use_list']
        try:
            data = msgpack.unpackb(data, raw=False, strict_map_key=False, **kwargs)
        except (msgpack.exceptions.ExtraData, msgpack.exceptions.UnpackException):
            raise BackendLoadError('MessagePack file {!r} could not be unpacked.'.format(name))
        except ValueError as e:
            # msgpack >= 1.0 raises a plain ValueError for truncated input (0.x raised an
            # UnpackException); its subclasses (UnicodeDecodeError, ...) keep their meaning.
            if type(e) is not ValueError:
                raise
            raise BackendLoadError('MessagePack file {!r} could not be unpacked.'.format(name))
        value = data['value']
        expiration_date = data['expiration_date']
        if expiration_date:
            expiration_date = _parse_date(expiration_date)
        # As the original: a reloaded object does not keep the bucket's config.
        return cls(value=value, expiration_date=expiration_date)

    @classmethod
    @_reads_bytes
    def from_file(cls, fp, config=None):
        return cls._from_bytes(fp.read(), config, getattr(fp, 'name', None))

    def _to_bytes(self):
        if self.expiration_date:
            expiration_date = self.expiration_date.isoformat()
        else:
            expiration_date = None
        data = {'value': self.value, 'expiration_date': expiration_date}
        c = self.config
        return msgpack.packb(data, default=c.default, unicode_errors=c.unicode_errors,
                             use_single_float=c.use_single_float, autoreset=c.autoreset,
                             use_bin_type=c.use_bin_type)

    @_writes_bytes
    def dump(self, fp):
        fp.write(self._to_bytes())
