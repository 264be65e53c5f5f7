"""The customer's delivery history and the receipts of confirmed deliveries (pages and API).

A receipt is read through the delivery it belongs to: ``deliveries.get_delivery`` answers «not found» for another
organisation's delivery, and a delivery not yet confirmed has no receipt — the same answer, so a customer learns
nothing of other organisations' deliveries from these addresses.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal import openapi, policy, web
from portal.blobs import content_disposition
from portal.deps import CurrentUser, SessionDep, SettingsDep, verify_csrf
from portal.errors import not_found
from portal.releases import deliveries, receipts
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
api_router = APIRouter(prefix="/api/v1", tags=["packages"], dependencies=[Depends(verify_csrf)])


def _receipt(session, user, delivery_id: int) -> receipts.Receipt:
    delivery = deliveries.get_delivery(session=session, delivery_id=delivery_id, user=user)
    found = receipts.receipt(session, delivery)
    if found is None:
        raise not_found("delivery", delivery_id)
    return found


def _text(found: receipts.Receipt) -> Response:
    return Response(found.data, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": content_disposition(found.file_name), "X-Content-Type-Options": "nosniff"})


def _signature(settings, found: receipts.Receipt) -> Response:
    return Response(receipts.signature(settings, found), media_type="application/octet-stream", headers={
        "Content-Disposition": content_disposition(found.file_name + receipts.SIGNATURE_SUFFIX)})


@router.get("/deliveries/history")
def history_page(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "delivery.view")
    rows = deliveries.list_deliveries(session=session, user=user)
    return web.render(request, "releases/history.html", {
        "rows": rows, "with_receipt": receipts.receipts_of(session, rows), "staff": user.is_staff})


@router.get("/deliveries/{delivery_id}/receipt.txt")
def receipt_text(user: CurrentUser, session: SessionDep, delivery_id: RowId) -> Response:
    return _text(_receipt(session, user, delivery_id))


@router.get("/deliveries/{delivery_id}/receipt.txt.sig")
def receipt_signature(user: CurrentUser, session: SessionDep, settings: SettingsDep, delivery_id: RowId) -> Response:
    return _signature(settings, _receipt(session, user, delivery_id))


@api_router.get("/deliveries/{delivery_id}/receipt", response_class=Response,
                responses=openapi.binary_responses("text/plain; charset=utf-8"),
                summary="The receipt of a confirmed delivery (UTF-8 text; customers: their organisation's)")
def api_receipt_text(user: CurrentUser, session: SessionDep, delivery_id: RowId) -> Response:
    return _text(_receipt(session, user, delivery_id))


@api_router.get("/deliveries/{delivery_id}/receipt/signature", response_class=Response,
                responses=openapi.binary_responses(),
                summary="Ed25519 signature of the receipt's bytes (raw, 64 bytes)")
def api_receipt_signature(user: CurrentUser, session: SessionDep, settings: SettingsDep,
                          delivery_id: RowId) -> Response:
    return _signature(settings, _receipt(session, user, delivery_id))
