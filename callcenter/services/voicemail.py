"""Voicemail (留言) and self-service: a message becomes a draft ticket; a code reads progress."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from callcenter.domain.access import Principal, Role
from callcenter.domain.tickets import Source, Status, TicketDetails
from callcenter.services.tickets import TicketService
from callcenter.speech.audio import AudioError, normalize_voicemail
from callcenter.speech.transcription import Transcriber

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

    def __init__(self, tickets: TicketService) -> None:
        self._tickets = tickets

    async def __call__(self, code: str, phone: str) -> str | None:
        ticket = await self._tickets.lookup(code, phone)
        return PROGRESS.get(ticket.status) if ticket else None


class VoicemailDesk:
    """Turns a recorded message into a draft ticket with the recording and a transcript.

    The caller is gone (or leaving) when this runs, so the work happens in the background; the
    draft is created even when normalizing or transcribing fails, with the reason noted, and a
    database outage delays it (retried with backoff) but does not lose it."""

    def __init__(
        self,
        tickets: TicketService,
        transcriber: Transcriber,
        call_of: Callable[[str], Awaitable[tuple[int, str] | None]],
        retry_max_seconds: float = 30.0,
    ) -> None:
        self._tickets = tickets
        self._transcriber = transcriber
        self._call_of = call_of
        self._retry_max = retry_max_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, linkedid: str, caller: str, recording: str) -> None:
        self._start(linkedid, caller, Path(recording))

    def _start(self, linkedid: str, caller: str | None, recording: Path) -> None:
        task = asyncio.create_task(self._file(linkedid, caller, recording))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self, directory: Path) -> int:
        """File the messages recorded but never filed (the engine stopped or the database was
        down until the end): every <linkedid>.wav no ticket holds. Returns how many."""
        recordings = sorted(
            path
            for path in await asyncio.to_thread(lambda: list(directory.glob("*.wav")))
            if not path.name.endswith(".norm.wav")
        )
        candidates = [str(p) for p in recordings] + [str(_normalized(p)) for p in recordings]
        filed = await self._tickets.filed_recordings(candidates)
        missing = [
            p for p in recordings if str(p) not in filed and str(_normalized(p)) not in filed
        ]
        for path in missing:
            log.warning("voicemail %s was never filed; filing it now", path)
            self._start(path.stem, None, path)
        return len(missing)

    async def drained(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _file(self, linkedid: str, caller: str | None, recording: Path) -> None:
        if not await asyncio.to_thread(recording.exists):
            log.warning("call %s: no voicemail recorded (%s missing)", linkedid, recording)
            return
        clean = _normalized(recording)
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
        delay = 0.5
        while True:
            try:
                # the call record is written as the call starts; link the draft to it
                call = await self._call_of(linkedid)
                call_id = call[0] if call else None
                phone = caller if caller is not None else (call[1] if call else "")
                ticket, _ = await self._tickets.create(
                    TicketDetails(caller_phone=phone, content=content),
                    ENGINE,
                    source=Source.VOICEMAIL,
                    call_id=call_id,
                    recording=str(clean),
                    draft=True,
                )
                break
            except Exception as err:
                log.warning(
                    "call %s: could not file the voicemail (%s) yet: %s; retrying in %.1f s",
                    linkedid,
                    clean,
                    err,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
        log.info("call %s: voicemail filed as draft ticket %s", linkedid, ticket.number)


def _normalized(recording: Path) -> Path:
    return recording.with_name(f"{recording.stem}.norm.wav")
