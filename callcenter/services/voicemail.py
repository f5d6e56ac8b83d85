"""Voicemail (留言) and self-service: a message becomes a draft ticket; a code reads progress."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from callcenter.domain.access import Principal, Role
from callcenter.domain.tickets import Source, Status, TicketDetails
from callcenter.speech.audio import AudioError, normalize_voicemail
from callcenter.speech.transcription import Transcriber
from callcenter.storage.tickets import TicketRepository

log = logging.getLogger(__name__)

# the engine files voicemail drafts under its own name in the audit trail
ENGINE = Principal(token_id=0, name="engine (voicemail)", role=Role.AGENT)

# what a caller hears about their ticket, by the IVR's four progress words
PROGRESS: dict[Status, str] = {
    Status.PENDING: "received",
    Status.RETURNED: "received",
    Status.DISPATCHED: "in_progress",
    Status.IN_PROGRESS: "in_progress",
    Status.EXTENSION_REQUESTED: "in_progress",
    Status.REPLIED: "replied",
    Status.AWAITING_CALLBACK: "replied",
    Status.RESOLVED: "closed",
    Status.NOT_ACCEPTED: "closed",
    Status.ARCHIVED: "closed",
}


class TicketProgress:
    """Self-service lookup: the query code and the caller's own number must both match."""

    def __init__(self, tickets: TicketRepository) -> None:
        self._tickets = tickets

    async def __call__(self, code: str, phone: str) -> str | None:
        ticket = await self._tickets.lookup(code, phone)
        return PROGRESS.get(ticket.status) if ticket else None


class VoicemailDesk:
    """Turns a recorded message into a draft ticket with the recording and a transcript.

    The caller is gone (or leaving) when this runs, so the work happens in the background; the
    draft is created even when normalizing or transcribing fails, with the reason noted."""

    def __init__(self, tickets: TicketRepository, transcriber: Transcriber) -> None:
        self._tickets = tickets
        self._transcriber = transcriber
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, linkedid: str, caller: str, recording: str) -> None:
        task = asyncio.create_task(self._file(linkedid, caller, Path(recording)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drained(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _file(self, linkedid: str, caller: str, recording: Path) -> None:
        if not await asyncio.to_thread(recording.exists):
            log.warning("call %s: no voicemail recorded (%s missing)", linkedid, recording)
            return
        clean = recording.with_name(f"{recording.stem}.norm.wav")
        content = ""
        try:
            info = await normalize_voicemail(recording, clean)
            transcript = await self._transcriber.transcribe(info.path)
            if transcript.status == "done":
                content = f"【留言转写】{transcript.text or '（未识别到语音）'}"
            elif transcript.status == "pending":
                content = f"【留言录音，转写待处理】{transcript.detail}".strip()
            else:
                content = f"【留言录音，转写失败】{transcript.detail}".strip()
        except AudioError as err:
            clean = recording
            content = f"【留言音频无法处理】{err}"
        details = TicketDetails(caller_phone=caller, content=content)
        try:
            ticket, _ = await self._tickets.create(
                details, ENGINE, source=Source.VOICEMAIL, recording=str(clean), draft=True
            )
        except Exception:
            log.exception("call %s: could not file the voicemail as a draft ticket", linkedid)
            return
        log.info("call %s: voicemail filed as draft ticket %s", linkedid, ticket.number)
