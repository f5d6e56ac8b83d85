"""Rendering Asterisk configuration from the templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.telephony.events import CONSUMED_EVENTS
from callcenter.telephony.render import RenderError, Softphone, fill, render

VALUES = {
    "RUN_DIR": "/srv/cc",
    "MODULE_DIR": "/usr/lib/asterisk/modules",
    "DATA_DIR": "/usr/share/asterisk",
    "AMI_BIND": "127.0.0.1",
    "AMI_PORT": "5038",
    "AMI_USER": "callcenter",
    "AMI_SECRET": "a-long-secret-value",
    "AMI_PERMIT": "127.0.0.1/255.255.255.255",
    "SIP_BIND": "127.0.0.1",
    "SIP_PORT": "5060",
    "TRUNK_MATCH": "127.0.0.1",
    "AGI_URL": "agi://127.0.0.1:4573",
    "PROMPT_DIR": "/srv/cc/prompts",
}


def test_render_fills_every_placeholder(tmp_path: Path) -> None:
    phones = [Softphone("agent1001", password="pw-1234567890"), Softphone("t1", contact="sip:t@x")]
    written = render(tmp_path, VALUES, phones)
    names = {path.name for path in written}
    assert {"manager.conf", "pjsip.conf", "extensions.conf", "modules.conf"} <= names
    for path in written:
        assert "@@" not in path.read_text(), path
    manager = (tmp_path / "manager.conf").read_text()
    assert "bindaddr = 127.0.0.1" in manager and "secret = a-long-secret-value" in manager
    # Asterisk sends the engine only the events it reads
    assert "eventfilter(action(include),name(Newchannel)) =" in manager
    assert manager.count("eventfilter(") == len(CONSUMED_EVENTS)
    pjsip = (tmp_path / "pjsip.conf").read_text()
    assert "[agent1001]\ntype = auth" in pjsip and "contact = sip:t@x" in pjsip
    assert "agi://127.0.0.1:4573/inbound" not in (tmp_path / "extensions.conf").read_text()
    assert "CC_AGI_URL = agi://127.0.0.1:4573" in (tmp_path / "extensions.conf").read_text()


def test_missing_value_names_file_and_line() -> None:
    with pytest.raises(RenderError, match=r"x\.conf:2: no value for placeholder @@NOPE@@"):
        fill(Path("x.conf"), "[a]\nkey = @@NOPE@@\n", {})


@pytest.mark.parametrize(
    "phone",
    [Softphone("bad name", password="x"), Softphone("a"), Softphone("a", "p", "sip:c")],
)
def test_softphone_validation(phone: Softphone) -> None:
    with pytest.raises(RenderError):
        phone.pjsip()


def test_calls_out_go_to_the_trunk_contact_only_when_one_is_set(tmp_path: Path) -> None:
    render(tmp_path / "none", VALUES)
    assert "trunk-out" not in (tmp_path / "none" / "pjsip.conf").read_text()
    render(tmp_path / "sbc", {**VALUES, "TRUNK_CONTACT": "sip:192.0.2.10:5060"})
    pjsip = (tmp_path / "sbc" / "pjsip.conf").read_text()
    assert "aors = trunk-out" in pjsip
    assert "[trunk-out]\ntype = aor\ncontact = sip:192.0.2.10:5060" in pjsip
    with pytest.raises(RenderError, match="trunk contact"):
        render(tmp_path / "bad", {**VALUES, "TRUNK_CONTACT": "sip:x\n[evil]"})
