"""Make Python BucketCache 0.12.1 run on current Pythons and dependencies.

Import this module *before* ``bucketcache``. It is the bucketcache-rs project's own shim (see
``original-behaviour.md`` section 3.2); every patch checks whether it is needed and does nothing
otherwise, so the module is harmless on the interpreters the original was written for.

P1  ``collections.Container`` (gone since Python 3.10) -> ``collections.abc.Container``.
P2  ``represent.ReprMixin`` (gone since represent 2.0) -> an empty mixin. The original only uses
    it for the repr of its logger configuration.
P3  ``inspect.getargspec`` (gone since Python 3.11) -> the 3.0-3.10 behaviour: the 4-field
    ``ArgSpec``, and ``ValueError`` for keyword-only parameters or annotations, so that decorator
    keys hash exactly as before. (Aliasing ``getfullargspec`` would not work: the original builds a
    ``FullArgSpec`` from the result and would pass ``kwonlyargs`` twice.)
P4  msgpack >= 1.0 no longer accepts ``encoding=``, refuses int map keys by default and raises a
    plain ``ValueError`` for truncated input. ``bucketcache.backends.msgpack`` is replaced by a
    proxy that drops ``encoding`` (the 1.x defaults give the same bytes), unpacks with
    ``strict_map_key=False`` and turns a plain ``ValueError`` into ``FormatError`` (an
    ``UnpackException``, which the original treats as a corrupt file, i.e. a miss).
P5  (opt-in: environment variable ``BC_COMPAT_P5=1``, or call ``apply_p5()``) Python 3.11 gave
    every object an inherited ``object.__getstate__``, which silently changes the key bytes of
    non-JSON-native keys and of ``method=True`` decorators. P5 makes the original's key encoder and
    ``get_instance_signature`` ignore that inherited method, restoring the <= 3.10 key bytes.
    JSON-native keys hash the same with or without it.

``APPLIED`` lists the patches that were actually needed here.
"""
from __future__ import absolute_import

import collections
import inspect
import os

APPLIED = []


def _p1_collections_container():
    if hasattr(collections, 'Container'):
        return
    from collections import abc  # binds only `abc`, not a local `collections`
    collections.Container = abc.Container
    APPLIED.append('P1')


def _p2_represent_reprmixin():
    try:
        import represent
    except ImportError:
        return
    if hasattr(represent, 'ReprMixin'):
        return

    class ReprMixin(object):
        """Stand-in for represent<2's ReprMixin: adds nothing (only a repr was lost)."""

    represent.ReprMixin = ReprMixin
    APPLIED.append('P2')


def _p3_inspect_getargspec():
    if hasattr(inspect, 'getargspec'):
        return
    ArgSpec = collections.namedtuple('ArgSpec', 'args varargs keywords defaults')

    def getargspec(func):
        """The Python 3.0-3.10 ``inspect.getargspec``, rebuilt on ``getfullargspec``."""
        spec = inspect.getfullargspec(func)
        if spec.kwonlyargs or spec.annotations:
            raise ValueError("Function has keyword-only parameters or annotations, "
                             "use inspect.signature() API which can support them")
        return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)

    inspect.ArgSpec = ArgSpec
    inspect.getargspec = getargspec
    APPLIED.append('P3')


class _MsgpackProxy(object):
    """Stands in for the ``msgpack`` module inside ``bucketcache.backends`` (P4)."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    def pack(self, o, stream, **kwargs):
        # 0.x's encoding='utf-8' with use_bin_type=1 is what 1.x does by default.
        kwargs.pop('encoding', None)
        return self._module.pack(o, stream, **kwargs)

    def unpack(self, stream, **kwargs):
        kwargs.pop('encoding', None)  # 1.x decodes str as UTF-8 (raw=False) by default
        kwargs.setdefault('strict_map_key', False)  # 0.x accepted int map keys
        exceptions = self._module.exceptions
        try:
            return self._module.unpack(stream, **kwargs)
        except ValueError as e:
            # Only the *plain* ValueError ("Unpack failed: incomplete input", ...) that 1.x raises
            # where 0.x raised an UnpackException; subclasses (ExtraData, FormatError,
            # UnicodeDecodeError, ...) keep their meaning.
            if type(e) is not ValueError:
                raise
            raise exceptions.FormatError(str(e))


def _p4_msgpack():
    try:
        import msgpack
    except ImportError:
        return
    if getattr(msgpack, 'version', (0,)) < (1, 0):
        return
    try:
        import bucketcache.backends as backends
    except ImportError:
        return  # bucketcache not installed: nothing to patch
    if isinstance(getattr(backends, 'msgpack', None), _MsgpackProxy):
        return
    backends.msgpack = _MsgpackProxy(msgpack)
    APPLIED.append('P4')


def _own_getstate(o):
    """``o.__getstate__`` unless it is merely the one every object inherits since Python 3.11.

    Raises AttributeError in that case, as Python <= 3.10 did for objects without one.
    """
    getstate = o.__getstate__  # AttributeError propagates, as before
    inherited = getattr(object, '__getstate__', None)
    if inherited is not None:
        if isinstance(o, type):
            found = getstate
        else:
            found = getattr(type(o), '__getstate__', None)
        if found is inherited:
            raise AttributeError('__getstate__')
    return getstate


def apply_p5():
    """Restore the Python <= 3.10 key bytes (P5). A no-op before Python 3.11."""
    if not hasattr(object, '__getstate__'):
        return
    import json
    import bucketcache.keymakers as keymakers
    import bucketcache.utilities as utilities

    encoder = keymakers._AnyObjectJSONEncoder
    if getattr(encoder.default, '_bc_compat_p5', False):
        return

    def default(self, o):
        # The original's fallbacks, in its order, with the inherited __getstate__ skipped.
        try:
            return json.JSONEncoder.default(self, o)
        except TypeError:
            pass
        try:
            return _own_getstate(o)()
        except AttributeError:
            pass
        if hasattr(o, '__slots__'):
            names = set()
            for cls in o.__class__.__mro__:
                names.update(keymakers.normalise_slots(getattr(cls, '__slots__', tuple())))
            return {k: getattr(o, k) for k in names if hasattr(o, k)}
        try:
            return o.__dict__
        except AttributeError:
            pass
        return repr(o)

    default._bc_compat_p5 = True
    encoder.default = default

    def get_instance_signature(instance):
        try:
            return instance._getsate_bucketcache_()
        except AttributeError:
            pass
        try:
            return _own_getstate(instance)()
        except AttributeError:
            pass
        return instance.__dict__

    utilities.get_instance_signature = get_instance_signature
    APPLIED.append('P5')


_p1_collections_container()
_p2_represent_reprmixin()
_p3_inspect_getargspec()
_p4_msgpack()
if os.environ.get('BC_COMPAT_P5', '') not in ('', '0'):
    apply_p5()
