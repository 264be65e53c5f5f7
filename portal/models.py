"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from portal import audit  # noqa: F401
from portal.accounts import models as accounts_models  # noqa: F401
