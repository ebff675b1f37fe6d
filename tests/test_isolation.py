"""No test of the library can touch the user's cache: fixtures of every scope see another one."""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from genlab import cache

import conftest


@pytest.fixture(scope="session")
def session_cache() -> Path:
    return cache.directory()


@pytest.fixture(scope="module")
def module_cache() -> Path:
    return cache.directory()


def test_no_fixture_or_test_sees_the_users_cache(session_cache, module_cache, private_cache,
                                                 user_cache):
    assert cache.directory() == private_cache
    for seen in (session_cache, module_cache, private_cache):
        assert seen != user_cache and user_cache not in seen.parents, seen


def test_the_chapters_keep_the_cache_the_run_was_given(monkeypatch, pytestconfig):
    """nbval starts a chapter's kernel inside its first cell's test: that must see GENLAB_CACHE
    as given (warm locally, empty in CI), not the library tests' scratch cache."""
    monkeypatch.setenv("GENLAB_CACHE", "/as/given")
    for path, expected in ((conftest.TESTS.parent / "book" / "01-setup.ipynb", "/as/given"),
                           (conftest.TESTS / "test_isolation.py",
                            str(pytestconfig.stash[conftest.SCRATCH_CACHE]))):
        protocol = conftest.pytest_runtest_protocol(
            SimpleNamespace(path=path, config=pytestconfig), None)
        next(protocol)  # as far as running the item
        assert os.environ["GENLAB_CACHE"] == expected, path
        protocol.close()
        assert os.environ["GENLAB_CACHE"] == "/as/given"
