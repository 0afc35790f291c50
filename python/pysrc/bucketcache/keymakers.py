"""Keymakers: an object to the bytes that name its file (``md5(backend name + bytes)``).

The bytes are those BucketCache 0.12.1 produced on Python <= 3.10, on every Python: the
``__getstate__`` that every object inherits since Python 3.11 is ignored, so old caches keep
hitting (non-JSON-native keys would otherwise hash differently).
"""
import json
from abc import ABCMeta, abstractmethod
from functools import partial
from tempfile import TemporaryFile

__all__ = (
    'DefaultKeyMaker',
    'StreamingDefaultKeyMaker',
)

_INHERITED_GETSTATE = getattr(object, '__getstate__', None)


def _own_getstate(o):
    """``o.__getstate__`` unless it is merely the one every object inherits since Python 3.11
    (then AttributeError, as Python <= 3.10 raised for objects without one)."""
    getstate = o.__getstate__  # AttributeError propagates
    if _INHERITED_GETSTATE is not None:
        found = getstate if isinstance(o, type) else getattr(type(o), '__getstate__', None)
        if found is _INHERITED_GETSTATE:
            raise AttributeError('__getstate__')
    return getstate


class KeyMaker(metaclass=ABCMeta):
    """KeyMaker abstract base class."""
    @abstractmethod
    def make_key(self, obj):
        """Make key from passed object.

        Parameters:
            obj: Any Python object.

        Yields:
            bytes of key to represent object.
        """
        raise NotImplementedError


class DefaultKeyMaker(KeyMaker):
    """Default KeyMaker that is consistent across Python versions.

    Uses :py:class:`_AnyObjectJSONEncoder` to convert any object into a string
    representation.

    Parameters:
        sort_keys (bool): Sort dictionary keys for consistency across Python
                          versions with different hash algorithms.
    """
    def __init__(self, sort_keys=True):
        self.sort_keys = sort_keys

    def make_key(self, obj):
        keystr = json.dumps(
            obj, sort_keys=self.sort_keys, cls=_AnyObjectJSONEncoder)
        yield keystr.encode('utf-8')

    def __repr__(self):
        return '{}(sort_keys={!r})'.format(type(self).__name__, self.sort_keys)


class StreamingDefaultKeyMaker(DefaultKeyMaker):
    """Subclass of DefaultKeyMaker that uses a temporary file to save memory."""
    def make_key(self, obj):
        with TemporaryFile(mode='w+') as f:
            json.dump(
                obj, f, sort_keys=self.sort_keys, cls=_AnyObjectJSONEncoder)
            f.seek(0)
            for data in iter(partial(f.read, 65536), ''):
                yield data.encode('utf-8')


class _AnyObjectJSONEncoder(json.JSONEncoder):
    """Serialize objects that can't normally be serialized by json.

    Attempts to get state will be done in this order:

    - ``o.__getstate__()`` (a method of its own: not ``object.__getstate__``)
    - Parameters from ``o.__slots__``
    - ``o.__dict__``
    - ``repr(o)``
    """

    def default(self, o):
        try:
            return json.JSONEncoder.default(self, o)
        except TypeError:
            pass

        try:
            return _own_getstate(o)()
        except AttributeError:
            pass

        if hasattr(o, '__slots__'):
            all_slots = set()
            for cls in o.__class__.__mro__:
                slots = getattr(cls, '__slots__', tuple())
                slots = normalise_slots(slots)
                all_slots.update(slots)

            return {k: getattr(o, k) for k in all_slots if hasattr(o, k)}

        try:
            return o.__dict__
        except AttributeError:
            pass

        return repr(o)


def normalise_slots(obj):
    """__slots__ can be a string for single attribute. Return inside tuple."""
    if isinstance(obj, str):
        return (obj,)
    else:
        return obj


# One encoder for the default keymaker's fast path (json.dumps builds one per call otherwise).
_ENCODER = _AnyObjectJSONEncoder(sort_keys=True)

try:
    from json.encoder import c_make_encoder as _c_make_encoder
    from json.encoder import encode_basestring_ascii as _encode_basestring_ascii
except ImportError:  # pragma: no cover - CPython always has them
    _c_make_encoder = None

import threading as _threading

_local = _threading.local()


def _make_c_encoder():
    markers = {}
    enc = _c_make_encoder(markers, _ENCODER.default, _encode_basestring_ascii, None, ': ', ', ',
                          True, False, True)
    return markers, enc


def default_key_text(obj):
    """``json.dumps(obj, sort_keys=True, cls=_AnyObjectJSONEncoder)``, with the C encoder
    built once per thread rather than once per call."""
    if type(obj) is str:
        return _encode_basestring_ascii(obj)
    try:
        markers, enc = _local.encoder
    except AttributeError:
        if _c_make_encoder is None:
            return _ENCODER.encode(obj)
        try:
            _local.encoder = markers, enc = _make_c_encoder()
        except TypeError:  # another C signature: the plain route
            return _ENCODER.encode(obj)
    try:
        return ''.join(enc(obj, 0))
    except BaseException:
        markers.clear()  # a failed encoding may leave its containers marked
        raise
