import os

from hypothesis import settings

# On CI the property tests draw the same examples every run (a CI that passes or fails by
# chance does not land); off CI they explore new ones each run, which is how bugs are found.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_configure(config):
    config.addinivalue_line("markers", "config(**sections): appliance config overrides")
    config.addinivalue_line("markers", "supervisor(*args): the dev supervisor's extra arguments")
    config.addinivalue_line("markers", "slow: minutes-long tests; skipped unless "
                                       "ROBOTCTL_SLOW_TESTS=1")
