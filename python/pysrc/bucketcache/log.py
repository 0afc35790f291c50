"""Logging, silent by default (the original's ``logger.disabled = True``).

Turn it on with ``bucketcache.logger.disabled = False`` (a :py:mod:`logging` logger named
``bucketcache.log``); ``logger_config.log_full_keys = True`` logs whole keys.
"""
import logging
import sys

__all__ = ()

logger = logging.getLogger(__name__)
logger.disabled = True


class _LoggerConfig(object):
    def __init__(self, log_full_keys=False):
        self.log_full_keys = log_full_keys

    def __repr__(self):
        return '_LoggerConfig(log_full_keys={!r})'.format(self.log_full_keys)


logger_config = _LoggerConfig()


def log_handled_exception(message, *args, **kwargs):
    if not logger.disabled:
        logger.debug('Handled exception: ' + message, *args,
                     exc_info=sys.exc_info(), **kwargs)
