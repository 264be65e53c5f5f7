"""Articles as search sees them, read from a commit of the content repository (never the working tree)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import git

from portal.config import Settings
from portal.content import ContentRepo
from portal.knowledge import frontmatter

log = logging.getLogger("portal.search")

KB_DIR = "kb"
SKIP_DIRS = ("kb/templates/",)
SYNONYMS_PATH = "kb/synonyms.txt"


@dataclass
class Article:
    path: str  # kb/<section>/<slug>.md, unique
    slug: str
    section: str
    title: str
    summary: str
    body: str  # plain text
    kind: str = ""
    module: str = ""
    product_versions: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    fixed_in: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    visibility: str = "internal"
    updated: int = 0  # Unix time of the last commit touching the file

    @property
    def url(self) -> str:
        """The page in the built site (``index.md`` is its folder's page)."""
        parts = [self.section] if self.section else []
        if self.slug != "index":
            parts.append(self.slug)
        return "/kb/" + "".join(f"{p}/" for p in parts)


def is_article_path(path: str) -> bool:
    return path.startswith(KB_DIR + "/") and path.endswith(".md") and not path.startswith(SKIP_DIRS)


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [s.strip() for s in str(value).split(",") if s.strip()]


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(^|\s)[#>*+-]+\s|[*`~]{1,3}|(?<!\w)_{1,3}(?=\w)|(?<=\w)_{1,3}(?!\w)"
                       r"|^\s*\|?[-:| ]{3,}\|?\s*$", re.MULTILINE)
_MD_ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s*\w+(?:\s+\"([^\"]*)\")?", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SPACES = re.compile(r"[ \t]+")


def plain_text(markdown: str) -> str:
    """Markdown reduced to readable text for indexing and snippets (markup is escaped later, never trusted)."""
    text = _HTML_COMMENT.sub(" ", markdown)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_ADMONITION.sub(r"\1", text)
    text = _MD_MARKS.sub(r"\1", text)
    text = text.replace("|", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def parse(path: str, text: str, updated: int = 0) -> Article | None:
    """The article of one file when it is published; None for drafts, archived, broken or non-article files."""
    try:
        meta, body = frontmatter.split(text)
    except frontmatter.FrontMatterError as exc:
        log.warning("search skips %s: %s", path, exc)
        return None
    if str(meta.get("status", "")).strip() != "published":
        return None
    pure = PurePosixPath(path)
    rel = pure.relative_to(KB_DIR)
    visibility = str(meta.get("visibility", "internal")).strip()
    if visibility not in frontmatter.VISIBILITIES:
        visibility = "internal"  # unknown means the narrowest audience
    return Article(
        path=path,
        slug=pure.stem,
        section="/".join(rel.parent.parts),
        title=str(meta.get("title") or pure.stem).strip(),
        summary=str(meta.get("summary") or "").strip(),
        body=plain_text(body),
        kind=str(meta.get("kind") or "").strip(),
        module=str(meta.get("module") or "").strip(),
        product_versions=_strings(meta.get("product_versions")),
        tickets=_strings(meta.get("tickets")),
        fixed_in=_strings(meta.get("fixed_in")),
        tags=[t.lower() for t in _strings(meta.get("tags"))],
        visibility=visibility,
        updated=updated,
    )


class Source:
    """Reads one content repository; each method opens its own Repo (GitPython is not thread-safe)."""

    def __init__(self, settings: Settings):
        self.content = ContentRepo(settings)

    def head(self) -> str:
        """HEAD of the content repository, read from the ref files when they are plain (no git process)."""
        git_dir = self.content.path / ".git"
        try:
            ref = (git_dir / "HEAD").read_text().strip()
            if not ref.startswith("ref: "):
                return ref
            name = ref[5:]
            loose = git_dir / name
            if loose.is_file():
                return loose.read_text().strip()
            packed = git_dir / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + name):
                        return line.split(" ", 1)[0]
        except OSError:
            pass
        return self.content.head()

    def article_paths(self, repo: git.Repo, commit: str) -> list[str]:
        tree = repo.commit(commit).tree
        try:
            kb = tree / KB_DIR
        except KeyError:
            return []
        return sorted(b.path for b in kb.traverse() if b.type == "blob" and is_article_path(b.path))

    def updated_times(self, repo: git.Repo, commit: str, paths: list[str] | None = None) -> dict[str, int]:
        """Unix time of the newest commit touching each article, from one pass of git log."""
        args = ["--format=%x00%ct", "--name-only", "--no-renames", commit, "--"]
        args += paths if paths else [KB_DIR]
        out = repo.git.log(*args)
        times: dict[str, int] = {}
        current = 0
        for line in out.splitlines():
            if line.startswith("\x00"):
                current = int(line[1:])
            elif line and line not in times:
                times[line] = current
        return times

    def articles(self, commit: str, paths: list[str] | None = None) -> Iterator[tuple[str, Article | None]]:
        """(path, article or None when not searchable) for the given paths, or every article file, at ``commit``."""
        with self.content.repo() as repo:
            tree = repo.commit(commit).tree
            if paths is None:
                paths = self.article_paths(repo, commit)
                times = self.updated_times(repo, commit)
            else:
                times = self.updated_times(repo, commit, paths) if paths else {}
            for path in paths:
                try:
                    blob = tree / path
                except KeyError:
                    yield path, None
                    continue
                text = blob.data_stream.read().decode("utf-8", errors="replace")
                yield path, parse(path, text, times.get(path, 0))

    def count(self, commit: str) -> int:
        with self.content.repo() as repo:
            return len(self.article_paths(repo, commit))

    def changed_paths(self, old: str, new: str) -> list[str] | None:
        """Article files changed between two commits; None when ``old`` is unknown (history rewritten)."""
        with self.content.repo() as repo:
            try:
                repo.commit(old)
                out = repo.git.diff("--name-only", "--no-renames", old, new, "--", KB_DIR)
            except (git.exc.GitCommandError, ValueError, git.exc.BadName):
                return None
        return sorted({p for p in out.splitlines() if is_article_path(p)})

    def touches(self, old: str, new: str, path: str) -> bool:
        with self.content.repo() as repo:
            try:
                return bool(repo.git.diff("--name-only", old, new, "--", path).strip())
            except git.exc.GitCommandError:
                return True

    def read(self, commit: str, path: str) -> str | None:
        with self.content.repo() as repo:
            try:
                return (repo.commit(commit).tree / path).data_stream.read().decode("utf-8", errors="replace")
            except (KeyError, ValueError, git.exc.BadName):
                return None
