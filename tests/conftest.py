def pytest_configure(config):
    config.addinivalue_line("markers", "config(**sections): appliance config overrides")
    config.addinivalue_line("markers", "slow: minutes-long tests; skipped unless "
                                       "ROBOTCTL_SLOW_TESTS=1")
