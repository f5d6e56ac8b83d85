"""/tickets/{id}/attachments: files on a ticket, readable by whoever may read the ticket.

Upload the raw file as the request body: `POST /tickets/7/attachments?name=现场照片.jpg` with
`Content-Type: image/jpeg`. Files are served as downloads, never rendered in the engine's origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from callcenter.api.auth import allowed
from callcenter.api.deps import AttachmentsDep, TicketsDep
from callcenter.api.gate import BODY_LIMIT_KEY
from callcenter.api.types import DbId, FromDomain
from callcenter.domain.access import Permission, Principal
from callcenter.domain.attachments import MAX_BYTES, AttachmentRefused, check

router = APIRouter(prefix="/tickets", tags=["ticket attachments"])


class AttachmentOut(FromDomain):
    id: int
    ticket_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    uploader_role: str
    department: str | None


async def _body(request: Request) -> bytes:
    """The request body, refused as soon as it grows past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise AttachmentRefused(f"a file may hold at most {MAX_BYTES // (1024 * 1024)} MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise AttachmentRefused(f"a file may hold at most {MAX_BYTES // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{ticket_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    # a file is larger than the API's default body limit; the route checks it against MAX_BYTES
    openapi_extra={BODY_LIMIT_KEY: MAX_BYTES + 64 * 1024},
)
async def attach(
    ticket_id: DbId,
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=255)],
    actor: Annotated[Principal, Depends(allowed(Permission.NOTE_TICKETS))],
    service: TicketsDep,
    files: AttachmentsDep,
) -> AttachmentOut:
    """Attach a file (PDF, JPEG, PNG, DOCX, XLSX, UTF-8 text; at most 10 MiB) to a ticket the
    caller may read: a department to the tickets in its hands."""
    await service.get(ticket_id, actor)
    data = await _body(request)
    media_type = request.headers.get("content-type", "")
    cleaned = check(name, media_type, data)
    media_type = media_type.split(";", 1)[0].strip().lower()
    now = service.clock()
    added = await files.add(ticket_id, cleaned, media_type, data, actor, now)
    return AttachmentOut.model_validate(added)


@router.get("/{ticket_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
    files: AttachmentsDep,
) -> list[AttachmentOut]:
    await service.get(ticket_id, viewer)
    return [AttachmentOut.model_validate(a) for a in await files.of_ticket(ticket_id)]


@router.get("/{ticket_id}/attachments/{attachment_id}")
async def download(
    ticket_id: DbId,
    attachment_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
    files: AttachmentsDep,
) -> Response:
    await service.get(ticket_id, viewer)
    found, data = await files.content(ticket_id, attachment_id)
    return Response(
        data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
