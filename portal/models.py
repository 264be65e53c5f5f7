"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests).

A domain adds its models module here when it lands.
"""

import portal.accounts.models  # noqa: F401
import portal.audit  # noqa: F401
import portal.content  # noqa: F401
import portal.intents  # noqa: F401
import portal.jobs  # noqa: F401
import portal.knowledge.feedback_models  # noqa: F401
import portal.knowledge.models  # noqa: F401
import portal.notify.models  # noqa: F401
import portal.releases.ledger_models  # noqa: F401
import portal.releases.models  # noqa: F401
import portal.search.models  # noqa: F401
import portal.search.similar.models  # noqa: F401
import portal.tickets.models  # noqa: F401
