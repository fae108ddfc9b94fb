"""Root of the test tree: puts tests/ on sys.path, so that every tier can `import pinned`, and
starts the longest modules first, so that `pytest -n 2 --dist loadfile` finishes sooner."""

from __future__ import annotations

import pytest

#: modules by descending run time (each starts a whole system); the rest keep their order
LONGEST_FIRST = ("test_system_strategies.py", "test_system_trading.py",
                 "test_system_processes.py")


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The browser tests skip without Chromium: say so loudly, not only in the skip list."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "system"))
    from browserkit import missing

    reason = missing()
    if reason:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {reason}", red=True, bold=True)
