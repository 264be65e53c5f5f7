"""Articles on disk: Markdown with YAML front matter. Parsing and writing only; the schema lives in articles.py.

Shared by the knowledge base (writing, site builds) and search (indexing), so
both read an article the same way.
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it: a search rebuild reads every article's front matter, and the
# pure-Python parser was a fifth of a profiled rebuild (same safe constructors, same results).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FIELDS = ("title", "summary", "kind", "module", "product_versions", "tickets", "fixed_in", "tags",
          "visibility", "status", "authors")
KINDS = ("problem", "known_issue", "consultation", "howto")
VISIBILITIES = ("public", "customers", "internal")
STATUSES = ("draft", "review", "published", "archived")


class FrontMatterError(ValueError):
    pass


def split(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of an article's text; a text without front matter has an empty one."""
    if not text.startswith("---"):
        return {}, text
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            raw = "".join(lines[1:i])
            body = "".join(lines[i + 1:])
            try:
                meta = yaml.load(raw, Loader=_SAFE_LOADER) or {}
            except yaml.YAMLError as exc:
                raise FrontMatterError(f"front matter is not valid YAML: {exc}") from exc
            if not isinstance(meta, dict):
                raise FrontMatterError("front matter must be a mapping of fields")
            return meta, body.lstrip("\n")
    raise FrontMatterError("front matter is not closed by a line with ---")


def join(meta: dict[str, Any], body: str) -> str:
    """Article text with fields in the canonical order, Cyrillic kept readable."""
    ordered = {k: meta[k] for k in FIELDS if k in meta}
    ordered.update({k: v for k, v in meta.items() if k not in ordered})
    head = yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)
    return f"---\n{head}---\n\n{body.lstrip(chr(10))}"
