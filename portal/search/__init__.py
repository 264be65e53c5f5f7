"""Search over the published knowledge base (Whoosh, Russian and English).

The index follows the knowledge base through ``knowledge.hooks.ARTICLES_CHANGED``; ``portal.wiring`` adds
``service.on_articles_changed`` there, so the server, the command line and the worker keep the index current
after every article commit.
"""
