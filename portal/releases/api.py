"""JSON API of fix packages and deliveries: parse → service → shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from portal import openapi
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.releases import deliveries, downloads, notice_pages, service, signing, upload
from portal.releases.schemas import HandoverBody, NoteBody, NotesBody, WithdrawBody, delivery_out, package_out
from portal.validation import RowId

router = APIRouter(prefix="/api/v1", tags=["packages"], dependencies=[Depends(verify_csrf)])
# The streamed upload checks CSRF itself while parsing (verify_csrf would read the whole form first).
upload_router = APIRouter(prefix="/api/v1", tags=["packages"])


def _out(session, package, user, *, full: bool = True) -> dict:
    delivery = None
    if user.organization_id is not None:
        delivery = deliveries.find_delivery(session=session, package_id=package.id,
                                            organization_id=user.organization_id)
    out = package_out(package, user=user, delivery=delivery, full=full,
                      ticket_ids=service.visible_ticket_ids(session=session, package=package, user=user))
    links = notice_pages.package_links(session, package=package, user=user)
    out["supersedes"] = links["supersedes"].id if links["supersedes"] else None
    out["superseded_by"] = [p.id for p in links["replaced_by"]]
    return out


@upload_router.post("/packages", status_code=201, summary="Upload a fix package (multipart: file…, id, title, "
                                                          "version, product_versions, ticket_ids, organizations)",
                    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["file", "id", "title", "version"],
                        "properties": {
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            **{name: {"type": "string"} for name in (
                                "id", "title", "version", "product_versions", "modules", "ticket_ids",
                                "organizations", "notes", "sha256", "supersedes")}}}}}}})
async def create_package(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                         db: DatabaseDep) -> dict:
    package = await upload.create_from_upload(request, user=user, session=session, settings=settings, db=db)
    return await run_in_threadpool(_out, session, package, user)


@router.get("/packages", summary="Fix packages the reader may see, newest first")
def list_packages(user: CurrentUser, session: SessionDep,
                  status: Annotated[str | None, Query(description="draft, published or withdrawn")] = None) -> list[dict]:
    return [_out(session, p, user, full=False)
            for p in service.list_packages(session=session, user=user, status=status)]


@router.get("/packages/{package_id}", summary="A fix package: notes, files, SHA-256, signatures")
def get_package(package_id: str, user: CurrentUser, session: SessionDep) -> dict:
    return _out(session, service.get_package(session=session, package_id=package_id, user=user), user)


@router.put("/packages/{package_id}/notes", summary="Edit a draft's release notes")
def put_notes(package_id: str, body: NotesBody, user: CurrentUser, session: SessionDep,
              settings: SettingsDep) -> dict:
    package = service.update_notes(session=session, settings=settings, actor=user, package_id=package_id,
                                   notes=body.notes)
    return _out(session, package, user)


@router.post("/packages/{package_id}/publish", summary="Publish a draft: deliveries for every entitled organisation")
def publish(package_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    package = service.publish_package(session=session, settings=settings, actor=user, package_id=package_id)
    return _out(session, package, user)


@router.post("/packages/{package_id}/withdraw", summary="Withdraw a published package (a reason is required)")
def withdraw(package_id: str, body: WithdrawBody, user: CurrentUser, session: SessionDep,
             settings: SettingsDep) -> dict:
    package = service.withdraw_package(session=session, settings=settings, actor=user, package_id=package_id,
                                       reason=body.reason)
    out = _out(session, package, user)
    out["received_by"] = [delivery_out(d) for d in deliveries.received_by(session=session, package=package)]
    return out


@router.head("/packages/{package_id}/files/{name}", include_in_schema=False)
@router.get("/packages/{package_id}/files/{name}", response_class=Response,
            summary="Download a package file (HEAD, Range, ETag, If-None-Match; SHA-256 in X-Checksum-SHA256)",
            responses=openapi.binary_responses(extra={
                "206": {"description": "The requested byte range (Range).",
                        "content": {"application/octet-stream": openapi.BINARY}},
                "304": {"description": "The file has not changed (If-None-Match)."},
                "410": openapi.error("The package is withdrawn; downloads are stopped."),
                "416": openapi.error("The Range is not understood or lies past the end of the file."),
                "503": openapi.error("The stored file is damaged (its SHA-256 does not match) and is not served.")}))
def download(package_id: str, name: str, request: Request, user: CurrentUser, session: SessionDep,
             settings: SettingsDep, db: DatabaseDep) -> Response:
    package = service.get_package(session=session, package_id=package_id, user=user, action="package.download")
    file = downloads.find_file(package, name)
    headers = request.headers
    return downloads.download_response(db=db, settings=settings, package=package, file=file, user=user,
                                       range_header=headers.get("range"), if_none_match=headers.get("if-none-match"),
                                       if_range=headers.get("if-range"), head=request.method == "HEAD")


@router.get("/packages/{package_id}/files/{name}/sha256", response_class=PlainTextResponse,
            summary="The file's sha256sum line (what the signature signs)")
def checksum_line(package_id: str, name: str, user: CurrentUser, session: SessionDep) -> PlainTextResponse:
    package = service.get_package(session=session, package_id=package_id, user=user, action="package.download")
    file = downloads.find_file(package, name)
    return PlainTextResponse(file.checksum_line, headers={
        "Content-Disposition": downloads.content_disposition(file.name + ".sha256")})


@router.get("/packages/{package_id}/files/{name}/signature", response_class=Response,
            responses=openapi.binary_responses(), summary="Ed25519 signature of the sha256sum line (raw)")
def signature(package_id: str, name: str, user: CurrentUser, session: SessionDep) -> Response:
    import base64

    package = service.get_package(session=session, package_id=package_id, user=user, action="package.download")
    file = downloads.find_file(package, name)
    return Response(base64.b64decode(file.signature), media_type="application/octet-stream", headers={
        "Content-Disposition": downloads.content_disposition(file.name + ".sha256.sig")})


@router.get("/signing-key", response_class=Response, summary="The portal's Ed25519 public key (PEM)",
            responses={200: {"description": "The public key in PEM format.",
                             "content": {"application/x-pem-file": {"schema": {"type": "string"}}}}})
def signing_key(settings: SettingsDep) -> PlainTextResponse:
    return PlainTextResponse(signing.public_key_pem(settings).decode(), media_type="application/x-pem-file",
                             headers={"Content-Disposition": 'attachment; filename="primoart-portal-ed25519.pem"'})


# --- deliveries -----------------------------------------------------------------------------------------

@router.get("/deliveries", summary="Deliveries the reader may see (customers: their organisation's)")
def list_deliveries(user: CurrentUser, session: SessionDep, package: str | None = None,
                    organization: str | None = None,
                    status: Annotated[str | None, Query(description="pending, downloaded, delivered, "
                                                                    "acknowledged, confirmed")] = None,
                    overdue: bool | None = None) -> list[dict]:
    return [delivery_out(d) for d in deliveries.list_deliveries(session=session, user=user, package=package,
                                                                organization=organization, status=status,
                                                                overdue=overdue)]


@router.post("/deliveries", status_code=201, summary="Record a hand-over by another channel (second line)")
def record_handover(body: HandoverBody, user: CurrentUser, session: SessionDep) -> dict:
    return delivery_out(deliveries.record_handover(session=session, actor=user, package_id=body.package_id,
                                                   organization=body.organization, channel=body.channel,
                                                   note=body.note))


@router.post("/deliveries/{delivery_id}/acknowledge", summary="Acknowledge receipt or installation (the customer)")
def acknowledge(delivery_id: RowId, user: CurrentUser, session: SessionDep, body: NoteBody | None = None) -> dict:
    return delivery_out(deliveries.acknowledge(session=session, actor=user, delivery_id=delivery_id,
                                               note=body.note if body else ""))


@router.post("/deliveries/{delivery_id}/confirm", summary="Confirm the delivery (second line; a note when on the "
                                                          "customer's behalf)")
def confirm(delivery_id: RowId, user: CurrentUser, session: SessionDep, body: NoteBody | None = None) -> dict:
    return delivery_out(deliveries.confirm(session=session, actor=user, delivery_id=delivery_id,
                                           note=body.note if body else ""))
