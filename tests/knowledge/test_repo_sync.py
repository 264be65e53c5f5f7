"""PORTAL_CONTENT_REPO with a remote: pull before a write, push after a commit, a conflict reported and nothing lost.

A bare repository plays the shared remote; a second clone plays another portal node (or a writer using git).
"""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from portal.config import Settings
from portal.content import ContentRepo
from portal.errors import Conflict
from portal.knowledge import service


@pytest.fixture
def remote(tmp_path, content_repo):
    """A bare remote seeded from the starter content, and ``settings`` whose content repo is a clone of it."""
    bare = tmp_path / "remote.git"
    git.Repo.init(bare, bare=True, initial_branch="main").close()
    seed = git.Repo(content_repo.path)
    seed.git.push(str(bare), "main:main")
    seed.close()
    return bare


def _clone(bare, target):
    repo = git.Repo.clone_from(str(bare), str(target), branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "Другой узел")
        cfg.set_value("user", "email", "node2@primoart.example")
    return repo


@pytest.fixture
def node(settings, remote, tmp_path):
    """Settings of a portal whose PORTAL_CONTENT_REPO is a clone of the remote."""
    _clone(remote, tmp_path / "node-content").close()
    return Settings(**{**settings.model_dump(), "content_repo": tmp_path / "node-content"})


def _remote_file(bare, path):
    repo = git.Repo(bare)
    try:
        return repo.git.show(f"main:{path}")
    finally:
        repo.close()


def _push_change(other, path, text, message="Правка на другом узле"):
    Path(other.working_dir, path).write_text(text, encoding="utf-8")
    other.git.add("--", path)
    other.index.commit(message)
    other.git.push("origin", "main")


def test_commits_are_pushed_and_others_commits_pulled_before_a_write(node, remote, writer, db, tmp_path):
    with db.session_scope() as session:
        article = service.create_article(session=session, settings=node, actor=writer, body="Текст.\n",
                                         front_matter={"title": "Статья с узла", "kind": "howto"})
    assert "title: Статья с узла" in _remote_file(remote, article.path)

    other = _clone(remote, tmp_path / "other")
    text = (tmp_path / "other" / article.path).read_text().replace("Текст.", "Текст, исправленный в git.")
    _push_change(other, article.path, text)
    other_head = other.head.commit.hexsha
    other.close()

    # The portal has not seen that commit; a write pulls it first, so the writer's base is checked against it.
    with db.session_scope() as session, pytest.raises(Conflict) as exc:
        service.save_article(session=session, settings=node, actor=writer, slug=article.slug, body="Моя правка.\n",
                             front_matter=article.meta.as_dict(), base_commit=article.commit)
    assert exc.value.extra["current_commit"] == other_head
    assert "+Текст, исправленный в git." in exc.value.extra["diff"]
    current = service.get_article(settings=node, slug=article.slug)
    with db.session_scope() as session:
        saved = service.save_article(session=session, settings=node, actor=writer, slug=article.slug,
                                     body="Моя правка.\n", front_matter=current.meta.as_dict(),
                                     base_commit=current.commit)
    assert "Моя правка." in _remote_file(remote, article.path)
    repo = git.Repo(remote)
    assert repo.commit("main").hexsha == saved.commit and repo.commit("main").parents[0].hexsha == other_head
    repo.close()


def test_a_remote_that_moved_meanwhile_is_rebased_on(node, remote, tmp_path):
    content = ContentRepo(node)
    other = _clone(remote, tmp_path / "other")
    with content.writing():
        _push_change(other, "kb/support/support-lines.md", "другой файл\n")  # after our pull, before our push
        mine = content.commit_files(files={"kb/howto/new.md": "---\ntitle: Новая\nkind: howto\n---\nТекст\n"},
                                    message="Новая статья")
    remote_repo = git.Repo(remote)
    head = remote_repo.commit("main")
    assert head.message.strip() == "Новая статья" and head.hexsha != mine  # rebased onto the other commit
    assert head.parents[0].hexsha == other.head.commit.hexsha
    remote_repo.close()
    other.close()


def test_a_real_conflict_is_reported_and_the_local_version_kept_on_a_branch(node, remote, tmp_path):
    content = ContentRepo(node)
    other = _clone(remote, tmp_path / "other")
    path = "kb/support/support-lines.md"
    with pytest.raises(Conflict) as exc, content.writing():
        _push_change(other, path, "версия другого узла\n")
        content.commit_files(files={path: "версия этого узла\n"}, message="Моя версия")
    branch = exc.value.extra["rescue_branch"]
    assert branch in exc.value.detail
    repo = git.Repo(node.content_path)
    try:
        assert repo.git.show(f"{branch}:{path}") == "версия этого узла"  # nothing lost
        assert (node.content_path / path).read_text() == "версия другого узла\n"  # the branch follows the remote
        assert repo.head.commit.hexsha == other.head.commit.hexsha
        assert not repo.is_dirty()
    finally:
        repo.close()
        other.close()
    assert _remote_file(remote, path) == "версия другого узла"
    # The next write starts clean.
    with content.writing():
        content.commit_files(files={path: "после конфликта\n"}, message="Снова")
    assert _remote_file(remote, path) == "после конфликта"
