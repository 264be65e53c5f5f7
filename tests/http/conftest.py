"""Shared data of the HTTP-interface tests: the fix-package world (three organisations, their customers,
second and third line) and a package published to romashka (by its ticket) and vector."""

from __future__ import annotations

import pytest

from tests.releases.conftest import create, make_world


@pytest.fixture
def world(db, settings, make, content_repo):
    return make_world(db, settings, make)


@pytest.fixture
def published(db, settings, world) -> str:
    return create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], orgs=["vector"],
                  publish=True)
