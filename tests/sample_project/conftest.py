"""``pytest shop/pricing.py`` (how increase-test-coverage.yaml names the file it measures) also
runs the test suite, so the coverage report covers that file under its tests."""

from pathlib import Path

TESTS = Path(__file__).parent / "tests"


def pytest_configure(config):
    sources = [arg for arg in config.args if arg.endswith(".py") and not Path(arg).name.startswith("test_")]
    if sources and len(sources) == len(config.args):
        config.args.append(str(TESTS))
