import pytest

# The one change (pytest >= 8 removed yield_fixture, which tests/__init__.py uses):
pytest.yield_fixture = pytest.fixture


def pytest_addoption(parser):
    parser.addoption('--run-slow', action='store_true',
                     default=False, help='run slow tests')


def pytest_runtest_setup(item):
    if 'slow' in item.keywords and not item.config.getoption('--run-slow'):
        pytest.skip('Use --run-slow to execute this test.')
