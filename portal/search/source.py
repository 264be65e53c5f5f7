"""Articles as search sees them, read from a commit of the content repository (never the working tree).

The knowledge base owns the article: which files are pages, how front matter is checked, the URL of a page
and who reads it (``portal.knowledge.articles``). Search reads exactly what the site builds — a published
article whose front matter breaks the schema is not indexed (``portal kb check`` names it) — and only
reduces the Markdown to text for its own use.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import threading
from collections.abc import Iterator

import git

from portal.config import Settings
from portal.content import ContentRepo, head_from_ref_files
from portal.errors import Invalid
from portal.knowledge import articles
from portal.knowledge.articles import Article

log = logging.getLogger("portal.search")

__all__ = ["Article", "Source", "SYNONYMS_PATH", "is_article_path", "parse", "plain_text"]

SYNONYMS_PATH = f"{articles.KB_DIR}/synonyms.txt"


def is_article_path(path: str) -> bool:
    """A page of the site (an article or a folder's index page), by the knowledge base's rule."""
    return articles.split_page_path(path) is not None


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
    """The published article of one file (knowledge's parser); None for drafts, archived, invalid or non-page
    files. An invalid one is logged here and reported by ``portal kb check`` and the writers' page."""
    try:
        return articles.read_published(path, text, updated=updated)
    except Invalid as exc:
        log.warning("search skips %s: %s", path, exc.detail)
        return None


def _contents(repo: git.Repo, shas: list[str]) -> Iterator[bytes]:
    """The contents of many blobs from one ``git cat-file --batch``, the names written by a thread of their own
    while the contents are read: GitPython's ``data_stream`` waits for one answer per file, which at 10,000
    articles was a round trip to git for each (most of reading git in a rebuild on a busy machine)."""
    process = subprocess.Popen([git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "cat-file", "--batch"],
                               cwd=repo.working_tree_dir or repo.git_dir, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None

    def feed(stdin=process.stdin):
        try:
            for sha in shas:
                stdin.write(f"{sha}\n".encode())
        except (BrokenPipeError, ValueError):  # the reader stopped early: git is being ended
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    feeder = threading.Thread(target=feed, name="portal-search-cat-file", daemon=True)
    feeder.start()
    out = process.stdout
    try:
        for sha in shas:
            header = out.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise git.exc.GitCommandError(["git", "cat-file", "--batch"], 1,
                                              f"unexpected answer for {sha}: {b' '.join(header)!r}".encode())
            data = out.read(int(header[2]))
            out.read(1)  # the newline after each object
            yield data
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        feeder.join()
        out.close()


class Source:
    """Reads one content repository; each method opens its own Repo (GitPython is not thread-safe)."""

    def __init__(self, settings: Settings):
        self.content = ContentRepo(settings)

    def head(self) -> str:
        """HEAD of the content repository: from the ref files when they are plain, else from git."""
        return head_from_ref_files(self.content.path) or self.content.head()

    def article_paths(self, repo: git.Repo, commit: str) -> list[str]:
        tree = repo.commit(commit).tree
        try:
            kb = tree / articles.KB_DIR
        except KeyError:
            return []
        if not isinstance(kb, git.Tree):
            return []
        # GitPython types a path as str or PathLike; a tree's entries carry str
        return sorted(str(b.path) for b in kb.traverse() if isinstance(b, git.Blob) and is_article_path(str(b.path)))

    def updated_times(self, repo: git.Repo, commit: str, paths: list[str] | None = None) -> dict[str, int]:
        """Unix time of the newest commit touching each article, from one pass of git log."""
        args = ["--format=%x00%ct", "--name-only", "--no-renames", commit, "--"]
        args += paths if paths else [articles.KB_DIR]
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
            # One walk of the tree instead of a lookup per path: ``tree / path`` scans a folder's entries, so a
            # full read of 10,000 articles in a few folders spent most of a rebuild there.
            if len(paths) > 20:
                blobs = self._blobs(tree)
                known = [p for p in paths if p in blobs]
                contents = _contents(repo, [blobs[p].hexsha for p in known])
                for path in paths:
                    if path not in blobs:
                        yield path, None
                        continue
                    text = next(contents).decode("utf-8", errors="replace")
                    yield path, parse(path, text, times.get(path, 0))
                return
            for path in paths:
                try:
                    blob = tree / path
                except KeyError:
                    yield path, None
                    continue
                text = blob.data_stream.read().decode("utf-8", errors="replace")
                yield path, parse(path, text, times.get(path, 0))

    @staticmethod
    def _blobs(tree: git.Tree) -> dict[str, git.Blob]:
        try:
            kb = tree / articles.KB_DIR
        except KeyError:
            return {}
        if not isinstance(kb, git.Tree):
            return {}
        return {str(b.path): b for b in kb.traverse() if isinstance(b, git.Blob)}

    def count(self, commit: str) -> int:
        with self.content.repo() as repo:
            return len(self.article_paths(repo, commit))

    def changed_paths(self, old: str, new: str) -> list[str] | None:
        """Article files changed between two commits; None when ``old`` is unknown (history rewritten)."""
        with self.content.repo() as repo:
            try:
                repo.commit(old)
                out = repo.git.diff("--name-only", "--no-renames", old, new, "--", articles.KB_DIR)
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
