"""A real PostgreSQL server for the store tests, when Debian's binaries are installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import postgres


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster's URL; skips only when the binaries are absent."""
    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres.cluster() as url:
        yield url
