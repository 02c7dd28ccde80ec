import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "config(**sections): appliance config overrides")
