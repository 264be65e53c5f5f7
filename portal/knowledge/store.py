"""Reading articles out of the content repository: the catalogue at HEAD, one article, its history, a diff.

Everything is read from git objects (never the working tree), one ``Repo`` per call. Parsed front matter
is cached by blob id — a blob never changes — so listing thousands of articles re-reads only what changed.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass

import git

from portal.content import ContentRepo
from portal.errors import Invalid, NotFound, not_found
from portal.i18n import message
from portal.knowledge import articles, frontmatter
from portal.knowledge.articles import Article

SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Entry:
    """One article file in the catalogue; ``meta`` is None when its front matter does not parse."""

    section: str
    slug: str
    path: str
    blob: str
    meta: articles.FrontMatter | None
    error: str = ""

    @property
    def visibility(self) -> str:
        if self.meta is None or self.meta.status != "published":
            return "internal"
        return self.meta.visibility

    @property
    def organization_id(self):
        return None

    @property
    def url(self) -> str:
        return articles.page_url(self.section, self.slug)


@dataclass(frozen=True)
class Version:
    commit: str
    author: str
    email: str
    date: str  # ISO 8601
    message: str


_cache_lock = threading.Lock()
_parsed: dict[str, tuple[articles.FrontMatter | None, str]] = {}


def _parse_meta(text: str) -> tuple[articles.FrontMatter | None, str]:
    try:
        meta, _ = frontmatter.split(text)
        return articles.check_front_matter(meta), ""
    except frontmatter.FrontMatterError as exc:
        return None, str(exc)
    except Invalid as exc:
        return None, exc.detail


def check_commit(value: str) -> str:
    """A commit id as given by a person: hex only, so it never reaches git as an option."""
    value = (value or "").strip().lower()
    if not SHA_RE.match(value):
        raise Invalid.fields({"commit": message("errors_kb_content.commit_id")})
    return value


def catalogue(content: ContentRepo, *, commit: str = "HEAD") -> list[Entry]:
    """Every article file under kb/ at a commit, with its parsed front matter, sorted by section and slug."""
    with content.repo() as repo:
        try:
            listing = repo.git.ls_tree("-r", "--full-tree", commit, "--", articles.KB_DIR)
        except git.GitCommandError:
            return []
        entries: list[Entry] = []
        for line in listing.splitlines():
            info, _, path = line.partition("\t")
            parts = info.split()
            if len(parts) != 3 or parts[1] != "blob":
                continue
            names = articles.split_path(path)
            if names is None:
                continue
            blob = parts[2]
            with _cache_lock:
                cached = _parsed.get(blob)
            if cached is None:
                text = repo.odb.stream(bytes.fromhex(blob)).read().decode("utf-8", errors="replace")
                cached = _parse_meta(text)
                with _cache_lock:
                    _parsed[blob] = cached
            entries.append(Entry(section=names[0], slug=names[1], path=path, blob=blob, meta=cached[0],
                                 error=cached[1]))
    return sorted(entries, key=lambda e: (e.section, e.slug))


def find(content: ContentRepo, slug: str) -> Entry:
    """The catalogue entry of a slug at HEAD, or 404."""
    articles.check_name(slug, what="slug")
    for entry in catalogue(content):
        if entry.slug == slug:
            return entry
    raise not_found("article", slug)


def last_commit(content: ContentRepo, path: str, *, rev: str = "HEAD") -> str:
    """The last commit that changed a file."""
    with content.repo() as repo:
        return repo.git.log("-1", "--format=%H", rev, "--", path).strip()


def read_text(content: ContentRepo, path: str, commit: str = "HEAD") -> str:
    """A file's text at a commit; 404 when it did not exist there."""
    rev = commit if commit == "HEAD" else check_commit(commit)
    with content.repo() as repo:
        try:
            return repo.git.show(f"{rev}:{path}", strip_newline_in_stdout=False)
        except git.GitCommandError:
            raise NotFound(message("errors_kb_content.no_file_version", rev=rev[:12], path=path)) from None


def load(content: ContentRepo, slug: str, *, commit: str = "HEAD") -> Article:
    """An article at HEAD (or at an older commit), parsed and checked, with the last commit that changed it."""
    entry = find(content, slug)
    text = read_text(content, entry.path, commit)
    article = articles.parse(text, section=entry.section, slug=entry.slug)
    article.commit = last_commit(content, entry.path, rev="HEAD" if commit == "HEAD" else check_commit(commit))
    return article


def history(content: ContentRepo, path: str, *, limit: int = 200) -> list[Version]:
    """Versions of a file, newest first (git log)."""
    with content.repo() as repo:
        out = repo.git.log(f"--max-count={int(limit)}", "--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s", "HEAD", "--", path)
    versions = []
    for line in out.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 5:
            versions.append(Version(*parts))
    return versions


def in_history(content: ContentRepo, path: str, commit: str) -> str:
    """The full id of a commit that changed this file; 404 for anything else."""
    commit = check_commit(commit)
    for version in history(content, path, limit=100000):
        if version.commit.startswith(commit):
            return version.commit
    raise NotFound(message("errors_kb_content.no_article_version", commit=commit[:12]))


def unified_diff(old: str, new: str, *, old_name: str, new_name: str) -> str:
    """A unified diff of two texts, as a reader would read it."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
