"""Rendering a cluster: Kamailio's configuration and dispatcher list, and a node's Asterisk
configuration (its name, the engines in order, agents reached through the proxy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.telephony.render import RenderError, render, render_kamailio
from tests.telephony.test_render import VALUES


def test_kamailio_dispatches_over_every_node_and_probes_them(tmp_path: Path) -> None:
    values = {"SIP_BIND": "192.0.2.2", "SIP_PORT": "5060", "RUN_DIR": "/srv/k", "MODULE_DIR": "/m"}
    written = render_kamailio(tmp_path, values, ["sip:192.0.2.3:5060", "sip:192.0.2.4:5060"])
    assert {path.name for path in written} == {"kamailio.cfg", "dispatcher.list"}
    cfg = (tmp_path / "kamailio.cfg").read_text()
    assert "@@" not in cfg
    assert "listen=udp:192.0.2.2:5060" in cfg
    assert 'modparam("dispatcher", "ds_ping_interval", 1)' in cfg
    assert f'"list_file", "{tmp_path}/dispatcher.list"' in cfg
    assert 'save("location")' in cfg and 'lookup("location")' in cfg
    listing = (tmp_path / "dispatcher.list").read_text().splitlines()
    assert listing == ["1 sip:192.0.2.3:5060 0 0 duid=n0", "1 sip:192.0.2.4:5060 0 0 duid=n1"]
    with pytest.raises(RenderError):
        render_kamailio(tmp_path, values, [])
    with pytest.raises(RenderError):
        render_kamailio(tmp_path, values, ["192.0.2.3\nlisten=evil"])


def test_a_node_has_its_name_the_engines_in_order_and_the_agents_proxy(tmp_path: Path) -> None:
    values = {
        **VALUES,
        "SYSTEM_NAME": "a",
        "AGI_URLS": "agi://192.0.2.5:4573|agi://192.0.2.6:4573",
        "AGENT_PROXY_CONTACT": "sip:192.0.2.2:5060",
    }
    render(tmp_path, values)
    assert "systemname = a" in (tmp_path / "asterisk.conf").read_text()
    dialplan = (tmp_path / "extensions.conf").read_text()
    assert "CC_AGI_URLS = agi://192.0.2.5:4573|agi://192.0.2.6:4573" in dialplan
    assert "Gosub(cc-agi,s,1(inbound))" in dialplan
    pjsip = (tmp_path / "pjsip.conf").read_text()
    assert "[proxy]\ntype = aor\ncontact = sip:192.0.2.2:5060" in pjsip
    assert "load => func_cut.so" in (tmp_path / "modules.conf").read_text()


def test_a_single_node_renders_as_before(tmp_path: Path) -> None:
    render(tmp_path, VALUES)
    assert "systemname = \n" in (tmp_path / "asterisk.conf").read_text()
    assert "maxload = 8.0" in (tmp_path / "asterisk.conf").read_text()
    dialplan = (tmp_path / "extensions.conf").read_text()
    assert "CC_AGI_URLS = agi://127.0.0.1:4573\n" in dialplan
    assert "[proxy]" not in (tmp_path / "pjsip.conf").read_text()
    with pytest.raises(RenderError):
        render(tmp_path, {**VALUES, "AGENT_PROXY_CONTACT": "not a uri"})
