"""Reads SIPp's own message trace (-trace_msg): when each phone sent or received what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SEPARATOR = re.compile(r"^-{20,} (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class SipMessage:
    at: datetime
    sent: bool
    first_line: str
    headers: dict[str, str]

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id", "")

    @property
    def cseq_method(self) -> str:
        return self.headers.get("cseq", "").split(" ")[-1]

    @property
    def from_user(self) -> str:
        found = re.search(r"sip:([^@;>]+)@", self.headers.get("from", ""))
        return found.group(1) if found else ""

    def is_request(self, method: str) -> bool:
        return self.first_line.startswith(f"{method} ")

    def is_response(self, code: int, method: str) -> bool:
        return self.first_line.startswith(f"SIP/2.0 {code} ") and self.cseq_method == method


def messages(path: Path) -> list[SipMessage]:
    """Every message of a SIPp message trace, in order, with SIPp's own time stamp."""
    text = path.read_text(errors="replace")
    found = []
    blocks = SEPARATOR.split(text)
    # split gives [before, stamp1, block1, stamp2, block2, ...]
    for stamp, block in zip(blocks[1::2], blocks[2::2], strict=True):
        lines = [line.rstrip("\r") for line in block.strip("\n").splitlines()]
        if len(lines) < 3:
            continue
        direction = lines[0]
        body = [line.strip() for line in lines[1:] if line.strip()]
        headers = {}
        for line in body[1:]:
            name, sep, value = line.partition(":")
            if sep and name.lower() not in headers:
                headers[name.strip().lower()] = value.strip()
        found.append(
            SipMessage(
                at=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
                sent=" sent " in f" {direction} ",
                first_line=body[0],
                headers=headers,
            )
        )
    return found


@dataclass(frozen=True)
class CitizenTimes:
    """One citizen's call as their phone saw it."""

    number: str
    answered_at: datetime  # the hotline's 200 OK reached the phone
    gave_up_at: datetime | None  # the citizen hung up (sent BYE)


def citizens(path: Path) -> dict[str, CitizenTimes]:
    by_call: dict[str, list[SipMessage]] = {}
    for message in messages(path):
        by_call.setdefault(message.call_id, []).append(message)
    found = {}
    for call in by_call.values():
        invite = next(m for m in call if m.sent and m.is_request("INVITE"))
        ok = next(m for m in call if not m.sent and m.is_response(200, "INVITE"))
        bye = next((m for m in call if m.sent and m.is_request("BYE")), None)
        found[invite.from_user] = CitizenTimes(
            invite.from_user, ok.at, bye.at if bye is not None else None
        )
    return found


@dataclass(frozen=True)
class AgentTimes:
    """One call offered to an agent's phone, as the phone saw it."""

    caller: str
    rang_at: datetime  # the INVITE reached the phone
    answered_at: datetime | None  # the phone sent its 200 OK


def agent_calls(path: Path) -> dict[str, AgentTimes]:
    by_call: dict[str, list[SipMessage]] = {}
    for message in messages(path):
        by_call.setdefault(message.call_id, []).append(message)
    found = {}
    for call in by_call.values():
        invite = next((m for m in call if not m.sent and m.is_request("INVITE")), None)
        if invite is None:
            continue
        ok = next((m for m in call if m.sent and m.is_response(200, "INVITE")), None)
        found[invite.from_user] = AgentTimes(
            invite.from_user, invite.at, ok.at if ok is not None else None
        )
    return found
