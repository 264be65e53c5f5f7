"""Packages through the services: create, dedupe, immutability, bad input, publish, withdraw, manifests, KB."""

from __future__ import annotations

import io
import os
import stat

import pytest
import yaml

from portal import audit, blobs
from portal.errors import Conflict, Invalid, PayloadTooLarge
from portal.releases import deliveries, service, signing
from portal.releases.models import Delivery, Package
from tests.releases.conftest import create, load, stage


def test_create_stores_files_once_signed_and_notes_from_tickets(db, settings, world):
    a = stage(settings, "fix.tar.gz", b"same bytes" * 1000)
    b = stage(settings, "копия.tar.gz", b"same bytes" * 1000)
    assert a.blob.created and not b.blob.created and a.sha256 == b.sha256  # identical bytes stored once
    pid = create(db, settings, world.support, tickets=[world.t_romashka, world.t_vector], files=[a, b])
    with db.session_scope(write=False) as s:
        package = s.get(Package, pid)
        assert package.status == "draft" and [f.name for f in package.files] == ["fix.tar.gz", "копия.tar.gz"]
        assert package.entitled_organization_ids == frozenset()  # offered to nobody before publishing
        for f in package.files:
            assert signing.verify(settings, f.checksum_line.encode(), f.signature)
        assert world.t_romashka in package.notes and "Отчёт не выгружается в Excel" in package.notes
        assert "Ромашка" not in package.notes and "Вектор" not in package.notes  # no organisation named
        assert audit.query(s, action="package.create")[0].object_id == pid
    store = blobs.blob_store(settings)
    assert len(list((settings.blobs_path / "sha256").rglob("*"))) == 3  # ab/, ab/cd/, one blob
    assert stat.S_IMODE(os.stat(store.path(a.sha256)).st_mode) == 0o444
    assert list(store.tmp.iterdir()) == []


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/b.tar", "a\\b.tar", "bad\x00name", "tab\tname",
                                  ".hidden", "..", " lead", "x" * 201, "я" * 130])
def test_bad_file_names_are_refused_before_anything_is_stored(settings, name):
    with pytest.raises(Invalid) as exc:
        stage(settings, name)
    assert exc.value.errors[0]["field"] == "file"
    assert not settings.blobs_path.exists() or not list(settings.blobs_path.rglob("sha256/*"))


def test_oversize_file_leaves_no_file(settings):
    small = settings.model_copy(update={"max_upload_bytes": 2048})
    with pytest.raises(PayloadTooLarge):
        service.stage_file(settings=small, name="big.bin", stream=io.BytesIO(b"x" * 5000))
    assert list(blobs.blob_store(small).tmp.iterdir()) == []
    assert not (small.blobs_path / "sha256").exists()


def test_client_sha256_is_checked(settings):
    data = b"payload" * 10
    good = service.stage_file(settings=settings, name="a.bin", stream=io.BytesIO(data),
                              expected_sha256=__import__("hashlib").sha256(data).hexdigest())
    assert good.size == 70
    with pytest.raises(blobs.ChecksumMismatch):
        service.stage_file(settings=settings, name="b.bin", stream=io.BytesIO(b"other"), expected_sha256="0" * 64)
    with pytest.raises(blobs.ChecksumMismatch):
        service.check_expected_sha256([good], ["f" * 64])
    service.check_expected_sha256([good], [good.sha256.upper()])


@pytest.mark.parametrize("change, field", [
    ({"package_id": "Bad ID"}, "id"),
    ({"package_id": "a..b"}, "id"),
    ({"tickets": ["PRM-2026-99999"]}, "ticket_ids"),
    ({"orgs": ["nobody"]}, "organizations"),
    ({"tickets": [], "orgs": []}, "ticket_ids"),
    ({"files": []}, "file"),
])
def test_bad_input_is_named_and_nothing_is_created(db, settings, world, change, field):
    kwargs = {"tickets": [world.t_romashka], **change}
    with pytest.raises(Invalid) as exc:
        create(db, settings, world.support, **kwargs)
    assert field in [e["field"] for e in exc.value.errors]
    with db.session_scope(write=False) as s:
        assert s.query(Package).count() == 0


def test_empty_file_and_duplicate_names_are_refused(db, settings, world):
    empty = service.stage_file(settings=settings, name="empty.bin", stream=io.BytesIO(b""))
    with pytest.raises(Invalid, match="пуст"):
        create(db, settings, world.support, tickets=[world.t_romashka], files=[empty])
    twice = [stage(settings, "a.bin"), stage(settings, "a.bin")]
    with pytest.raises(Invalid, match="дважды"):
        create(db, settings, world.support, tickets=[world.t_romashka], files=twice)


def test_only_second_line_creates_and_ids_are_unique(db, settings, world):
    from portal.errors import Forbidden

    with pytest.raises(Forbidden):
        create(db, settings, world.developer, tickets=[world.t_romashka])
    create(db, settings, world.support, tickets=[world.t_romashka])
    with pytest.raises(Conflict, match="уже существует"):
        create(db, settings, world.support, tickets=[world.t_romashka])


def test_publish_creates_deliveries_commits_manifest_and_freezes_files(db, settings, world, content_repo):
    pid = create(db, settings, world.support, tickets=[world.t_romashka], orgs=["third"])
    with db.session_scope() as s:
        package = service.publish_package(session=s, settings=settings, actor=load(s, world.support), package_id=pid)
        orgs = {d.organization.slug: d.status for d in s.query(Delivery).filter_by(package_id=pid)}
        assert orgs == {"romashka": "pending", "third": "pending"}
        assert package.entitled_organization_ids == {world.romashka.id, world.third.id}
        commit = package.manifest_commit
    text = (content_repo.path / "releases" / f"{pid}.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["status"] == "published" and meta["tickets"] == [world.t_romashka]
    assert meta["organizations"] == ["romashka", "third"]
    assert meta["files"][0]["sha256"] and meta["files"][0]["size"] == 1800
    assert content_repo.head() == commit
    with db.session_scope() as s, pytest.raises(Conflict, match="уже опубликован"):
        service.publish_package(session=s, settings=settings, actor=load(s, world.support), package_id=pid)
    with db.session_scope() as s, pytest.raises(Conflict, match="не меняются"):
        service.add_files(session=s, settings=settings, actor=load(s, world.support), package_id=pid,
                          files=[stage(settings, "new.bin", b"new")])
    with db.session_scope() as s, pytest.raises(Conflict):
        service.update_notes(session=s, settings=settings, actor=load(s, world.support), package_id=pid, notes="x")


def test_drafts_take_more_files_and_edited_notes(db, settings, world):
    pid = create(db, settings, world.support, tickets=[world.t_romashka])
    with db.session_scope() as s:
        actor = load(s, world.support)
        service.add_files(session=s, settings=settings, actor=actor, package_id=pid,
                          files=[stage(settings, "readme.txt", b"read me")])
        package = service.update_notes(session=s, settings=settings, actor=actor, package_id=pid,
                                       notes="# Свои примечания")
        assert package.notes == "# Свои примечания\n" and len(package.files) == 2
        package = service.update_notes(session=s, settings=settings, actor=actor, package_id=pid, notes="")
        assert world.t_romashka in package.notes  # empty: rendered again from the template


def test_all_customers_entitles_every_organisation(db, settings, world, make):
    pid = create(db, settings, world.support, orgs=["all"], publish=True)
    with db.session_scope(write=False) as s:
        package = s.get(Package, pid)
        assert world.outsider.organization_id in package.entitled_organization_ids
        assert {d.organization.slug for d in s.query(Delivery).filter_by(package_id=pid)} == {
            "romashka", "vector", "third"}


def test_withdrawal_needs_a_reason_and_lists_who_had_it(db, settings, world, content_repo):
    pid = create(db, settings, world.support, tickets=[world.t_romashka, world.t_vector], publish=True)
    with db.session_scope() as s:
        actor = load(s, world.support)
        with pytest.raises(Invalid):
            service.withdraw_package(session=s, settings=settings, actor=actor, package_id=pid, reason="  ")
        package = service.get_package_unchecked(session=s, package_id=pid)
        deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        service.withdraw_package(session=s, settings=settings, actor=actor, package_id=pid,
                                 reason="Ломает выгрузку в PDF")
        assert [d.organization.slug for d in deliveries.received_by(session=s, package=package)] == ["romashka"]
        with pytest.raises(Conflict, match="уже отозван"):
            service.withdraw_package(session=s, settings=settings, actor=actor, package_id=pid, reason="ещё раз")
        with pytest.raises(Conflict, match="отозван"):
            service.publish_package(session=s, settings=settings, actor=actor, package_id=pid)
    meta = yaml.safe_load((content_repo.path / "releases" / f"{pid}.md").read_text().split("---")[1])
    assert meta["status"] == "withdrawn" and meta["withdraw_reason"] == "Ломает выгрузку в PDF"
    with db.session_scope() as s:
        draft = create(db, settings, world.support, package_id="primoart-5.2.1-hf4", tickets=[world.t_romashka])
        with pytest.raises(Conflict, match="не опубликован"):
            service.withdraw_package(session=s, settings=settings, actor=load(s, world.support), package_id=draft,
                                     reason="r")


def test_publishing_records_fixed_in_of_articles_citing_the_tickets(db, settings, world, make, content_repo):
    from portal.knowledge import service as kb
    from portal.knowledge.frontmatter import split

    writer = make.user("writer")
    with db.session_scope() as s:
        cited = kb.create_article(session=s, settings=settings, actor=writer, body="## Симптомы\n\nНет выгрузки.\n",
                                  front_matter={"title": "Выгрузка в Excel", "kind": "problem", "summary": "Кратко",
                                                "visibility": "customers", "tickets": [world.t_romashka]})
        kb.publish_article(session=s, settings=settings, actor=writer, slug=cited.slug)
        other = kb.create_article(session=s, settings=settings, actor=writer, body="Текст\n",
                                  front_matter={"title": "Другое", "kind": "howto", "summary": "Кратко",
                                                "visibility": "customers", "tickets": [world.t_romashka]})
    pid = create(db, settings, world.support, tickets=[world.t_romashka], publish=True)
    meta, _ = split((content_repo.path / cited.path).read_text())
    assert meta["fixed_in"] == [pid]
    draft_meta, _ = split((content_repo.path / other.path).read_text())
    assert pid not in (draft_meta.get("fixed_in") or [])  # only published articles
    with db.session_scope(write=False) as s:
        assert audit.query(s, action="package.fixed_in")[0].details["articles"] == [cited.slug]


def test_customers_list_only_their_published_packages(db, settings, world):
    create(db, settings, world.support, package_id="pkg-romashka", tickets=[world.t_romashka], publish=True)
    create(db, settings, world.support, package_id="pkg-vector", tickets=[world.t_vector], publish=True)
    create(db, settings, world.support, package_id="pkg-draft", tickets=[world.t_romashka])
    with db.session_scope(write=False) as s:
        assert [p.id for p in service.list_packages(session=s, user=load(s, world.ivanova))] == ["pkg-romashka"]
        assert {p.id for p in service.list_packages(session=s, user=load(s, world.developer))} == {
            "pkg-romashka", "pkg-vector", "pkg-draft"}
        assert service.visible_ticket_ids(session=s, package=s.get(Package, "pkg-romashka"),
                                          user=load(s, world.ivanova)) == [world.t_romashka]
