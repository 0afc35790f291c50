"""BucketCache: a versatile persistent file cache.

BucketCache 0.12.1's API and cache files, on the Rust core of bucketcache (PyO3): the same
classes, the same file names and bytes, plus stores (``lmdb``, Redis), bounded memory, disk
budgets, single flight across processes and :py:meth:`Bucket.stats`.
"""
from . import backends, buckets, config, exceptions, keymakers, utilities
from .backends import *  # noqa: F401,F403
from .buckets import *  # noqa: F401,F403
from .buckets import Stats  # noqa: F401
from .config import *  # noqa: F401,F403
from .exceptions import *  # noqa: F401,F403
from .keymakers import *  # noqa: F401,F403
from .log import logger, logger_config  # noqa: F401
from .utilities import *  # noqa: F401,F403

__all__ = (backends.__all__ + buckets.__all__ + config.__all__ +
           exceptions.__all__ + keymakers.__all__ + utilities.__all__)

__author__ = 'Frazer McLean <frazer@frazermclean.co.uk> (BucketCache); bucketcache-rs'
__version__ = '0.12.1'
__license__ = 'MIT'
__description__ = 'Versatile persistent file cache.'
