"""Search over the published knowledge base (Whoosh, Russian and English).

Importing the package registers the index updater in the knowledge base's ``ARTICLES_CHANGED``
hook; ``portal.app`` and ``portal.cli`` import it, so both the server and the command line keep
the index current after every article commit.
"""

from portal.knowledge import hooks as _hooks
from portal.search import service as _service

if _service.on_articles_changed not in _hooks.ARTICLES_CHANGED:
    _hooks.ARTICLES_CHANGED.append(_service.on_articles_changed)
