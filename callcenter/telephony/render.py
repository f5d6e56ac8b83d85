"""Renders asterisk_conf/ and dialplan/ into an Asterisk configuration directory."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from callcenter.domain.seats import SIP_REALM
from callcenter.telephony.events import CONSUMED_EVENTS

PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
REPO = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = (REPO / "asterisk_conf", REPO / "dialplan")
KAMAILIO_DIR = REPO / "kamailio_conf"
# the PJSIP endpoint through which a node of a cluster reaches agents (registered with Kamailio)
PROXY_ENDPOINT = "proxy"


# a contact Asterisk may dial: sip(s):host[:port][;param=value...], nothing that could break a line
SIP_URI = r"sips?:[A-Za-z0-9.:\[\]_-]+(;[A-Za-z0-9=_.-]+)*"


class RenderError(Exception):
    code = "render_error"


@dataclass(frozen=True, slots=True)
class Softphone:
    """An agent seat's PJSIP endpoint: registers with a password (or the MD5 digest of
    `name:realm:password`, so the password itself need not be stored), or has a fixed contact."""

    name: str
    password: str | None = None
    contact: str | None = None
    md5: str | None = None

    def pjsip(self) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", self.name):
            raise RenderError(f"softphone name {self.name!r} must be 1-40 of A-Z a-z 0-9 _ . -")
        secrets_given = sum(x is not None for x in (self.password, self.md5, self.contact))
        if secrets_given != 1:
            raise RenderError(f"softphone {self.name}: give exactly one of password, md5, contact")
        if self.md5 is not None and not re.fullmatch(r"[0-9a-f]{32}", self.md5):
            raise RenderError(f"softphone {self.name}: md5 must be 32 lowercase hex digits")
        lines = [
            f"[{self.name}]",
            "type = endpoint",
            "transport = transport-udp",
            "context = from-agent",
            "disallow = all",
            "allow = ulaw,alaw",
            "direct_media = no",
            "send_connected_line = no",
            "rtp_symmetric = yes",
            "dtmf_mode = rfc4733",
            f"aors = {self.name}",
        ]
        if self.password is not None or self.md5 is not None:
            lines += [f"auth = {self.name}", ""]
            lines += [f"[{self.name}]", "type = auth", f"username = {self.name}"]
            if self.md5 is not None:
                lines += ["auth_type = md5", f"realm = {SIP_REALM}", f"md5_cred = {self.md5}"]
            else:
                lines += ["auth_type = userpass", f"password = {self.password}"]
        lines += ["", f"[{self.name}]", "type = aor"]
        if self.contact is not None:
            lines.append(f"contact = {self.contact}")
        else:
            lines += ["max_contacts = 1", "remove_existing = yes"]
        return "\n".join(lines) + "\n"


def render(
    out_dir: Path,
    values: Mapping[str, str],
    softphones: Sequence[Softphone] = (),
) -> list[Path]:
    """Write every template with its placeholders filled; an unknown placeholder is an error."""
    filled = dict(values)
    filled["AGENT_ENDPOINTS"] = "\n".join(phone.pjsip() for phone in softphones)
    contact = values.get("TRUNK_CONTACT", "")
    if contact and not re.fullmatch(SIP_URI, contact):
        raise RenderError(f"trunk contact {contact!r} is not a SIP URI like sip:192.0.2.10:5060")
    filled["AMI_EVENT_FILTERS"] = "\n".join(
        f"eventfilter(action(include),name({name})) =" for name in CONSUMED_EVENTS
    )
    filled.setdefault("SYSTEM_NAME", "")
    filled.setdefault("MAX_LOAD", "8.0")
    filled.setdefault("AGI_URLS", values.get("AGI_URL", ""))
    proxy = values.get("AGENT_PROXY_CONTACT", "")
    if proxy and not re.fullmatch(SIP_URI, proxy):
        raise RenderError(f"agent proxy {proxy!r} is not a SIP URI like sip:192.0.2.20:5060")
    filled["AGENT_PROXY"] = _proxy_endpoint(proxy) if proxy else "; (none: agents register here)"
    filled["TRUNK_AORS"] = "aors = trunk-out" if contact else "; (no outbound contact configured)"
    filled["TRUNK_OUTBOUND"] = (
        f"\n[trunk-out]\ntype = aor\ncontact = {contact}\nqualify_frequency = 0\n"
        if contact
        else ""
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for template_dir in TEMPLATE_DIRS:
        for template in sorted(template_dir.glob("*.conf")):
            target = out_dir / template.name
            target.write_text(fill(template, template.read_text(), filled))
            written.append(target)
    return written


def _proxy_endpoint(contact: str) -> str:
    """Agents are dialled as PJSIP/<agent endpoint>@proxy: the request goes to the proxy, which
    forwards it to wherever the agent's softphone registered."""
    return "\n".join(
        [
            f"[{PROXY_ENDPOINT}]",
            "type = endpoint",
            "transport = transport-udp",
            "context = from-agent",
            "disallow = all",
            "allow = ulaw,alaw",
            "direct_media = no",
            "send_connected_line = no",
            "rtp_symmetric = yes",
            "dtmf_mode = rfc4733",
            f"aors = {PROXY_ENDPOINT}",
            "",
            f"[{PROXY_ENDPOINT}]",
            "type = aor",
            f"contact = {contact}",
            "qualify_frequency = 0",
            "",
        ]
    )


def render_kamailio(out_dir: Path, values: Mapping[str, str], nodes: Sequence[str]) -> list[Path]:
    """Kamailio's configuration and its dispatcher list (one SIP URI per Asterisk node)."""
    if not nodes:
        raise RenderError("a cluster needs at least one Asterisk node")
    for node in nodes:
        if not re.fullmatch(SIP_URI, node):
            raise RenderError(f"node {node!r} is not a SIP URI like sip:192.0.2.30:5060")
    out_dir.mkdir(parents=True, exist_ok=True)
    filled = {"PROBE_INTERVAL": "1", "CONF_DIR": str(out_dir), **values}
    written = []
    for template in sorted(KAMAILIO_DIR.glob("*.cfg")):
        target = out_dir / template.name
        target.write_text(fill(template, template.read_text(), filled))
        written.append(target)
    listing = out_dir / "dispatcher.list"
    # setid destination flags priority attributes; flags 0: probed like every other node
    listing.write_text("".join(f"1 {node} 0 0 duid=n{i}\n" for i, node in enumerate(nodes)))
    written.append(listing)
    return written


def fill(where: Path, text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            line = text.count("\n", 0, match.start()) + 1
            raise RenderError(f"{where}:{line}: no value for placeholder @@{name}@@")
        return values[name]

    return PLACEHOLDER.sub(one, text)
