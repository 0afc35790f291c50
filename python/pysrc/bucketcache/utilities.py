"""The decorator machinery and small helpers (the original's ``bucketcache.utilities``)."""
import functools
import inspect
import weakref
from collections import namedtuple
from copy import copy

from . import _native
from .exceptions import KeyInvalidError
from .log import logger

__all__ = ()


FullArgSpec = namedtuple(
    'FullArgSpec',
    ['args', 'varargs', 'varkw', 'defaults', 'kwonlyargs', 'kwonlydefaults',
     'annotations'])

NormalizedArgs = namedtuple(
    'NormalizedArgs',
    ['varargs', 'normargs', 'callargs'])

CachedCallInfo = namedtuple(
    'CachedCallInfo',
    ['varargs', 'callargs', 'return_value', 'expiration_date'])

PrunedFilesInfo = namedtuple('PrunedFilesInfo', ['size', 'num'])

_MISSING = object()
_key_text = _native.key_text


def _argspec(f):
    """The argspec the original put in its keys. Its ``getargspec`` route (Python <= 3.10) and
    its ``getfullargspec`` fallback give the same seven fields for every function."""
    return FullArgSpec(*inspect.getfullargspec(f))


class DecoratorFactory(object):
    """Produce decorator to wrap a function with a bucket."""
    def __init__(self, bucket, method=False, nocache=None, callback=None,
                 ignore=None):
        self.bucket = bucket
        self.method = method
        self.nocache = nocache
        self.callback = callback
        self.fref = None
        self.property = False

        if ignore is None:
            ignore = ()
        self.ignore = ignore

    def decorate(self, f):
        from .keymakers import DefaultKeyMaker, _ENCODER, default_key_text

        if isinstance(f, property):
            f = f.fget
            self.property = True
            # method=True can be excluded when decorating a property because
            # it's detectable. Set it now.
            self.method = True

        self.fref = weakref.ref(f)

        argspec = _argspec(f)
        all_args = set(argspec.args)
        all_args.update(argspec.kwonlyargs)

        if self.nocache:
            if self.nocache not in all_args:
                raise TypeError("nocache decorator argument '{}'"
                                "missing from argspec.".format(self.nocache))

        test_set = set(self.ignore)

        # *args and **kwargs can be ignored too
        if argspec.varargs in self.ignore:
            test_set -= set([argspec.varargs])
        if argspec.varkw in self.ignore:
            test_set -= set([argspec.varkw])

        raise_invalid_keys(all_args, test_set,
                           message='parameter{s} cannot be ignored if not '
                                   'present in argspec: {keys}')

        fsig = (f.__name__, argspec._asdict())
        fsig_json = []  # computed on first use, with the bucket's default keymaker

        # A call with positional arguments only, to a function without *args, **kwargs and
        # keyword-only arguments, is normalised without inspect.getcallargs.
        names = tuple(argspec.args)
        defaults = tuple(argspec.defaults or ())
        n_required = len(names) - len(defaults)
        simple = not (argspec.varargs or argspec.varkw or argspec.kwonlyargs)
        bucket = self.bucket
        factory = self

        def key_bytes(sig_instance, sig_varargs, sig_normargs):
            """The keymaker bytes of the call's signature, as the original's
            ``keymaker.make_key((sig_instance,) fsig, varargs, normargs)``."""
            km = bucket.keymaker
            if type(km) is DefaultKeyMaker and km.sort_keys is True:
                if not fsig_json:
                    fsig_json.append(_ENCODER.encode(fsig).encode('utf-8'))
                # The arguments' text is made in Rust when they are plain values (the same
                # text; None leaves it to the Python encoder).
                args_key = [sig_varargs, sig_normargs]
                rest = _key_text(args_key)
                if rest is None:
                    rest = default_key_text(args_key).encode('utf-8')
                if sig_instance is _MISSING:
                    return b'[' + fsig_json[0] + b', ' + rest[1:]
                instance = _key_text(sig_instance)
                if instance is None:
                    instance = default_key_text(sig_instance).encode('utf-8')
                return b'[' + instance + b', ' + fsig_json[0] + b', ' + rest[1:]
            if sig_instance is _MISSING:
                signature = (fsig, sig_varargs, sig_normargs)
            else:
                signature = (sig_instance, fsig, sig_varargs, sig_normargs)
            return b''.join(km.make_key(signature))

        def load_or_call(key_hash, args, kwargs, varargs, callargs):
            """Load function result from cache, or call function and cache result."""
            skip_cache = False
            if factory.nocache:
                skip_cache = callargs[factory.nocache]

            def call_and_cache():
                if not logger.disabled:
                    logger.info('Calling function %s', f)
                res = f(*args, **kwargs)
                bucket._store_value(key_hash, res)
                return res

            if skip_cache:
                return call_and_cache(), True
            try:
                obj = bucket._get_obj_from_hash(key_hash)
            except KeyInvalidError:
                lease = bucket._single_flight_lock(key_hash)
                if lease is None:
                    return call_and_cache(), True
                with lease:
                    # Another thread or process may have computed it while we waited.
                    try:
                        obj = bucket._get_obj_from_hash(key_hash)
                    except KeyInvalidError:
                        return call_and_cache(), True
            if not logger.disabled:
                logger.info('Function call loaded from cache: %s', f)
            result = obj.value
            if factory.callback:
                callinfo = CachedCallInfo(varargs, callargs, result, obj.expiration_date)
                if factory.method:
                    instance = callargs[argspec.args[0]]
                    factory.callback(instance, callinfo)
                else:
                    factory.callback(callinfo)
            return result, False

        def wrapper(*args, **kwargs):
            if simple and not kwargs and n_required <= len(args) <= len(names):
                callargs = dict(zip(names, args))
                for i in range(len(args), len(names)):
                    callargs[names[i]] = defaults[i - n_required]
                varargs = ()
                normargs = callargs
            else:
                varargs, normargs, callargs = normalize_args(f, argspec, *args, **kwargs)

            method = factory.method
            if factory.nocache or factory.ignore or method:
                sig_normargs = normargs.copy()
                sig_varargs = copy(varargs)
                # Delete nocache parameter from call arg used for signature.
                if factory.nocache:
                    del sig_normargs[factory.nocache]
                for arg in factory.ignore:
                    if arg == argspec.varargs:
                        sig_varargs = ()
                    elif arg == argspec.varkw:
                        for kwarg in callargs[argspec.varkw]:
                            del sig_normargs[kwarg]
                    else:
                        del sig_normargs[arg]
            else:
                sig_normargs = normargs
                sig_varargs = varargs

            if method:
                instance = args[0]
                # Delete instance parameter from call arg used for signature.
                del sig_normargs[argspec.args[0]]
                sig_instance = get_instance_signature(instance)
            else:
                sig_instance = _MISSING

            # Make key_hash before function call, and raise error
            # if state changes (hash is different) afterwards.
            before = key_bytes(sig_instance, sig_varargs, sig_normargs)
            key_hash = bucket._hash_for_bytes(before)
            ret, called = load_or_call(key_hash, args, kwargs, varargs, callargs)

            if called:
                if key_bytes(sig_instance, sig_varargs, sig_normargs) != before:
                    optional = ''
                    if method:
                        optional = ' or instance state'
                    raise ValueError(
                        "modification of input parameters{} by function"
                        " '{}' cannot be cached.".format(optional, f.__name__))

            return ret

        new_function = functools.wraps(f)(wrapper)
        new_function.__signature__ = inspect.signature(f)
        new_function.callback = self.add_callback
        if self.property:
            new_function = property(new_function)
        return new_function

    def add_callback(self, f):
        """Magic method assigned to f.callback that allows a callback to be
        defined as follows:

        @bucket
        def fun(...):
            ...

        @fun.callback
        def fun():
            ...

        In the event that a cached result is used, the callback is fired.
        """
        self.callback = f
        return self.decorate(self.fref())


def get_instance_signature(instance):
    """Get state of instance for cache signature (as part of key).

    Attempts to get state will be done in this order:

    - instance._getsate_bucketcache_()
    - instance.__getstate__() (one of its own, not ``object.__getstate__``)
    - instance.__dict__
    """
    from .keymakers import _own_getstate
    try:
        return instance._getsate_bucketcache_()
    except AttributeError:
        pass

    try:
        return _own_getstate(instance)()
    except AttributeError:
        pass

    return instance.__dict__


def normalize_args(f, argspec, *args, **kwargs):
    """Normalize call arguments into keyword form and varargs."""
    callargs = inspect.getcallargs(f, *args, **kwargs)
    original_callargs = callargs.copy()

    if argspec.varkw:
        kwargs = callargs.pop(argspec.varkw, {})
        callargs.update(kwargs)

    if argspec.varargs:
        varargs = callargs.pop(argspec.varargs, ())
    else:
        varargs = ()

    return NormalizedArgs(varargs=varargs,
                          normargs=callargs,
                          callargs=original_callargs)


def raise_invalid_keys(valid_keys, passed_keys, message=None):
    if message is None:
        message = 'Invalid keyword argument{s}: {keys}'
    if not passed_keys <= valid_keys:
        invalid_keys = passed_keys - valid_keys
        raise_keys(invalid_keys, message=message)


def raise_keys(keys, message):
    invalid_str = ', '.join(keys)
    s = 's' if len(keys) > 1 else ''
    raise TypeError(message.format(s=s, keys=invalid_str))
