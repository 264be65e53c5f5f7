"""Articles: the front-matter schema, safe names, and parsing an article file into a checked object.

An article is ``kb/<section>/<slug>.md``: YAML front matter (``frontmatter.FIELDS``) and a Markdown
body. The schema is checked with pydantic on every write; each invalid field is named in the reader's language.
Slugs and sections are restricted to ``[a-z0-9-]`` so that no name can become a git option or
leave the ``kb/`` folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from portal.errors import Invalid
from portal.i18n import Joined, message
from portal.knowledge import frontmatter
from portal.validation import describe_validation_errors

KB_DIR = "kb"
TEMPLATES_DIR = "templates"
# The visibility of a new article when the writer names none: customers (any signed-in reader). The knowledge
# base is written for the customers' first line (the regulation's «обновление базы знаний по итогам
# инцидента»), and a new article is a draft anyway until a writer publishes it. Every way of creating an
# article (web form, API, command line, a ticket's template) takes it from here.
DEFAULT_VISIBILITY = "customers"
# How a file that states no visibility is read: staff only. Not a choice for new articles (they always state
# one) but the safe reading of a hand-written file — a missing field never widens who reads it.
UNSTATED_VISIBILITY: Literal["internal"] = "internal"
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
TICKET_ID_RE = re.compile(r"^[A-Z0-9]{1,10}-\d{4}-\d{3,}$")

# The names of the article's fields, kinds, visibilities and statuses: catalogue messages (kb_labels.yml), read
# in the language of whoever reads them — a writer's page, an API answer, or a site edition (``in_language`` of the
# edition's own language: a built page has one reader language, not each visitor's).
FIELDS = ("title", "summary", "kind", "module", "product_versions", "tickets", "fixed_in", "tags", "visibility",
          "status", "authors", "body", "section", "slug", "base_commit")
LABELS = {name: message(f"kb_labels.field.{name}") for name in FIELDS}

KINDS = ("problem", "known_issue", "consultation", "howto")
KIND_NAMES = {kind: message(f"kb_labels.kind.{kind}") for kind in KINDS}
VISIBILITY_NAMES = {v: message(f"kb_labels.visibility.{v}") for v in ("public", "customers", "internal")}
STATUS_NAMES = {s: message(f"kb_labels.status.{s}") for s in ("draft", "review", "published", "archived")}
# Where an article of each kind goes when the writer names no section.
DEFAULT_SECTIONS = {"problem": "problems", "known_issue": "known-issues", "consultation": "consultations",
                    "howto": "howto"}
# A section's title on the site when its ``index.md`` gives none: never the folder's English name.
KIND_SECTION_NAMES = {kind: message(f"kb_labels.section.{kind}") for kind in KINDS}
SECTION_NAMES = {DEFAULT_SECTIONS[kind]: name for kind, name in KIND_SECTION_NAMES.items()}
OTHER_SECTION_NAME = message("kb_labels.section.other")


def _text_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\n]", value)]
    if not isinstance(value, list):
        raise ValueError(message("error.input.list"))
    out = []
    for item in value:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise ValueError(message("kb_labels.error.list_item"))
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


class FrontMatter(BaseModel):
    """The front matter of one article, as the schema allows it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    summary: str = Field("", max_length=500)
    kind: Literal["problem", "known_issue", "consultation", "howto"]
    module: str = Field("", max_length=100)
    product_versions: list[str] = Field(default_factory=list)
    tickets: list[str] = Field(default_factory=list)
    fixed_in: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    visibility: Literal["public", "customers", "internal"] = UNSTATED_VISIBILITY
    status: Literal["draft", "review", "published", "archived"] = "draft"
    authors: list[str] = Field(default_factory=list)

    @field_validator("product_versions", "fixed_in", "tags", "authors", mode="before")
    @classmethod
    def _lists(cls, value):
        return _text_list(value)

    @field_validator("tickets", mode="before")
    @classmethod
    def _ticket_ids(cls, value):
        ids = [v.upper() for v in _text_list(value)]
        bad = [v for v in ids if not TICKET_ID_RE.match(v)]
        if bad:
            raise ValueError(message("kb_labels.error.ticket_id", ident=bad[0]))
        return ids

    @field_validator("title", "summary", "module", mode="before")
    @classmethod
    def _scalar_text(cls, value):
        if value is None:
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


def check_front_matter(meta: Any) -> FrontMatter:
    """The validated front matter; ``Invalid`` (422) names every wrong field (in the reader's language)."""
    if not isinstance(meta, dict):
        raise Invalid.fields({"front_matter": message("errors_knowledge.front_matter_not_mapping")})
    try:
        return FrontMatter.model_validate(meta)
    except ValidationError as exc:
        # Messages as everywhere in the portal; labels of the article's own fields (other domains use some
        # of the same names, e.g. "kind", for other things).
        _, body = describe_validation_errors(exc.errors())
        errors = [{**e, "label": LABELS.get(e["field"], e.get("label"))} for e in body["errors"]]
        parts: list[Any] = []
        for e in errors:
            parts += ["; " if parts else "", e["label"] or e["field"], ": ", e["message"]]
        raise Invalid(message("kb_labels.error.check_fields", summary=Joined(parts)), errors=errors) from None


def check_publishable(meta: FrontMatter, body: str) -> None:
    """What a published article needs beyond the schema: a summary and a text."""
    errors = {}
    if not meta.summary:
        errors["summary"] = message("errors_knowledge.summary_before_publish")
    if not body.strip():
        errors["body"] = message("errors_knowledge.body_before_publish")
    if errors:
        raise Invalid.fields(errors)


def check_name(value: str, *, what: str) -> str:
    """A slug or section: lowercase Latin letters, digits and hyphens; anything else is refused."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise Invalid.fields({what: message("errors_knowledge.slug_format")})
    return value


_TRANSLIT = dict(zip("абвгдеёзийклмнопрстуфхцыэ", "abvgdeeziyklmnoprstufhcye", strict=True))
_TRANSLIT.update({"ж": "zh", "ч": "ch", "ш": "sh", "щ": "sch", "ю": "yu", "я": "ya", "ъ": "", "ь": ""})


def slugify(text: str, *, max_length: int = 60) -> str:
    """A safe slug from a (Russian) title: transliterated, lowercase, hyphens."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    out = re.sub(r"[^a-z0-9]+", "-", out).strip("-")
    out = out[:max_length].rstrip("-")
    return out or "article"


def article_path(section: str, slug: str) -> str:
    """The repository path of an article; both names are checked first."""
    return f"{KB_DIR}/{check_name(section, what='section')}/{check_name(slug, what='slug')}.md"


def page_url(section: str, slug: str) -> str:
    """The URL of an article's page, the same in every site edition (MkDocs' directory URLs; an index page is
    its folder's page): ``/kb/<section>/<slug>/``. The one rule for links in search hits, e-mails and pages."""
    parts = [p for p in (section, "" if slug == "index" else slug) if p]
    return "/kb/" + "".join(f"{p}/" for p in parts)


@dataclass
class Article:
    """One article as stored in git at some commit."""

    section: str
    slug: str
    meta: FrontMatter
    body: str
    commit: str = ""  # the last commit that changed this article's file
    extra: dict[str, Any] = field(default_factory=dict)
    updated: int = 0  # Unix time of that commit, when the reader asked for it (search)

    @property
    def path(self) -> str:
        if self.slug == "index":  # a folder's index page (section "" for the site's home page)
            return f"{KB_DIR}/{check_name(self.section, what='section')}/index.md" if self.section \
                else f"{KB_DIR}/index.md"
        return article_path(self.section, self.slug)

    @property
    def url(self) -> str:
        return page_url(self.section, self.slug)

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def summary(self) -> str:
        return self.meta.summary

    @property
    def kind(self) -> str:
        return self.meta.kind

    @property
    def module(self) -> str:
        return self.meta.module

    @property
    def product_versions(self) -> list[str]:
        return self.meta.product_versions

    @property
    def tickets(self) -> list[str]:
        return self.meta.tickets

    @property
    def fixed_in(self) -> list[str]:
        return self.meta.fixed_in

    @property
    def tags(self) -> list[str]:
        return self.meta.tags

    @property
    def status(self) -> str:
        return self.meta.status

    @property
    def visibility(self) -> str:
        """What ``policy`` reads: an unpublished article is treated as internal (staff only)."""
        return self.meta.visibility if self.meta.status == "published" else "internal"

    @property
    def organization_id(self):  # articles belong to no organisation
        return None

    def text(self) -> str:
        return frontmatter.join(self.meta.as_dict(), self.body)


def parse(text: str, *, section: str, slug: str, commit: str = "") -> Article:
    """Parse and check an article file; ``Invalid`` names what is wrong."""
    try:
        meta, body = frontmatter.split(text)
    except frontmatter.FrontMatterError as exc:
        raise Invalid.fields({"front_matter": message("errors_knowledge.front_matter_unreadable", reason=str(exc))}) \
            from None
    return Article(section=section, slug=slug, meta=check_front_matter(meta), body=body, commit=commit)


def split_path(path: str) -> tuple[str, str] | None:
    """(section, slug) of ``kb/<section>/<slug>.md``; None for anything else (templates, index pages, assets)."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != KB_DIR or not parts[2].endswith(".md"):
        return None
    section, slug = parts[1], parts[2][:-3]
    if section == TEMPLATES_DIR or slug == "index" or not NAME_RE.match(section) or not NAME_RE.match(slug):
        return None
    return section, slug


def split_page_path(path: str) -> tuple[str, str] | None:
    """(section, slug) of a page of the site: an article, or an index page (slug ``index``; section ``""`` for
    ``kb/index.md``); None for anything else."""
    if path == f"{KB_DIR}/index.md":
        return "", "index"
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == KB_DIR and parts[2] == "index.md" and parts[1] != TEMPLATES_DIR \
            and NAME_RE.match(parts[1]):
        return parts[1], "index"
    return split_path(path)


def read_published(path: str, text: str, *, commit: str = "", updated: int = 0) -> Article | None:
    """The published page of a file, as every edition and search show it; None when the file is no page or is
    not published. ``Invalid`` when its front matter breaks the schema: such a file is neither indexed nor
    built, and ``service.check`` and the writers' page name it.

    An index page (``kb/<section>/index.md``) is a folder's title page; it is a page of its own only when its
    front matter says ``status: published``.
    """
    names = split_page_path(path)
    if names is None:
        return None
    section, slug = names
    if slug == "index":
        try:
            raw, _ = frontmatter.split(text)
        except frontmatter.FrontMatterError:
            return None  # a title page whose header does not read: the site shows its folder's name instead
        if raw.get("status") != "published":
            return None
    article = parse(text, section=section, slug=slug, commit=commit)
    if article.meta.status != "published":
        return None
    article.updated = updated
    return article
