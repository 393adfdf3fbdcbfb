"""`pytest calc.py` runs the project's tests too, so the workflow's
`pytest --cov --cov-report=xml {{ inputs.target_file }}` measures the file under its tests."""

from pathlib import Path

TESTS = Path(__file__).parent / "tests"


def pytest_configure(config):
    if str(TESTS) not in config.args:
        config.args.append(str(TESTS))
