"""Provisions agents' softphones as PJSIP endpoints: writes pjsip_agents.conf, reloads PJSIP."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from callcenter.domain.errors import TelephonyUnavailable
from callcenter.domain.seats import AgentProfile
from callcenter.telephony.ami import AmiClient
from callcenter.telephony.nodes import AmiNodes
from callcenter.telephony.render import Softphone

log = logging.getLogger(__name__)

AGENTS_FILE = "pjsip_agents.conf"


def render_agents(profiles: Iterable[AgentProfile]) -> str:
    phones = [
        Softphone(p.endpoint, contact=p.sip_contact, md5=None if p.sip_contact else p.sip_md5)
        for p in sorted(profiles, key=lambda p: p.endpoint)
        if p.active and (p.sip_contact or p.sip_md5)
    ]
    header = "; Written by the engine from its agent list; edits here are overwritten.\n\n"
    return header + "\n".join(phone.pjsip() for phone in phones)


class SoftphoneProvisioner:
    def __init__(self, conf_dir: Path, ami: AmiClient | AmiNodes) -> None:
        self._path = conf_dir / AGENTS_FILE
        self._ami = ami

    async def publish(self, profiles: Iterable[AgentProfile]) -> None:
        """Write the endpoints and make Asterisk load them; safe to call again at any time."""
        text = render_agents(profiles)
        if not self._path.parent.is_dir():
            log.error("cannot provision softphones: %s does not exist", self._path.parent)
            return
        current = self._path.read_text() if self._path.exists() else None
        if current != text:
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, self._path)
        try:
            await self._ami.action({"Action": "Command", "Command": "module reload res_pjsip.so"})
        except TelephonyUnavailable:
            log.warning("softphones written to %s; PJSIP reloads when AMI is back", self._path)
