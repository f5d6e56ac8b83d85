"""Validated engine settings, read from CALLCENTER_* environment variables."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar, overload

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callcenter.domain.logins import LoginPolicy
from callcenter.domain.routing import OverflowRule
from callcenter.domain.surveys import SurveyPolicy, parse_hours
from callcenter.domain.workdays import parse_time_of_day
from callcenter.telephony.nodes import Node, parse_nodes
from callcenter.telephony.render import SIP_URI

Port = Annotated[int, Field(ge=1, le=65535)]
REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it in one line."""

    code = "bad_setting"


# the one default database: `make run`, `create-token` and `migrate` all use it, from any
# working directory
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'callcenter.sqlite3'}"


class DatabaseSettings(BaseSettings):
    """What commands that only touch the database need (create-token, create-user, migrate): no
    telephony.
    The API address is where they look for a running engine to compare databases with."""

    model_config = SettingsConfigDict(env_prefix="CALLCENTER_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    api_host: str = "127.0.0.1"
    api_port: Port = 8012
    log_level: str = "INFO"

    # people's logins (name + password): how long a session lasts, and how many wrong
    # passwords in a row lock the account for how long
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: float = Field(default=15.0, gt=0, le=24 * 60)

    # tickets closed longer ago than this move to the archive tables (`callcenter
    # archive-tickets`, storage/ticket_archive.py): out of the hot tables, still readable
    ticket_archive_after_days: int = Field(default=730, ge=1, le=365 * 100)

    @property
    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            max_failures=self.login_max_failures,
            lockout=timedelta(minutes=self.login_lockout_minutes),
            session=timedelta(hours=self.session_hours),
        )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("api_host")
    @classmethod
    def _api_host(cls, value: str) -> str:
        return _host_name(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper


def _host_name(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be a host name or an IP address")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not all(part.replace("-", "").isalnum() for part in value.split(".")):
            raise ValueError("must be a host name or an IP address") from None
    return value


class Settings(DatabaseSettings):
    """Everything the engine needs to start. No field has a default password."""

    ami_host: str = "127.0.0.1"
    ami_port: Port = 5038
    ami_user: str = "callcenter"
    ami_secret: SecretStr
    ami_ping_interval: float = Field(default=2.0, gt=0, le=60)
    ami_ping_timeout: float = Field(default=2.0, gt=0, le=60)
    ami_reconnect_max: float = Field(default=2.0, gt=0, le=60)

    agi_host: str = "127.0.0.1"
    agi_port: Port = 4573

    # a cluster: the Asterisk nodes, `name=host:port` of each AMI, separated by "," (empty: the
    # one node at ami_host:ami_port); a node whose AMI stays unreachable node_lost_seconds is
    # declared gone and its calls in progress are recorded as lost
    nodes: str = ""
    node_lost_seconds: float = Field(default=5.0, gt=0, le=600)
    # the PJSIP endpoint agents are dialled through (the SIP proxy they register with, e.g.
    # "proxy" in a cluster behind Kamailio); empty: each agent's own endpoint on the node
    agent_proxy: str = Field(default="", pattern=r"^([A-Za-z0-9_.-]{1,40})?$")
    # rendering a node of a cluster: its name (prefixes its uniqueids), the SIP proxy it
    # reaches agents through (sip:host:port, rendered as the PJSIP endpoint "proxy"), and the
    # FastAGI URLs of the engines after this one's (the standby), separated by "|"
    node_name: str = Field(default="", pattern=r"^([A-Za-z0-9_-]{1,40})?$")
    agent_proxy_contact: str = Field(default="", pattern=f"^({SIP_URI})?$")
    standby_agi_urls: str = Field(default="", pattern=r"^(agi://[A-Za-z0-9.:\[\]_-]+\|?)*$")
    # active/standby engines: leadership held through PostgreSQL (an advisory lock); only the
    # leader takes calls, the standby serves reads and answers writes with 503 naming the leader
    leader_election: bool = False
    engine_name: str = Field(default="", pattern=r"^[A-Za-z0-9_.:-]{0,64}$")
    # where this engine's API is reached by others (named by the standby's 503); default from
    # api_host:api_port
    api_url: str = ""

    # the largest request body the API reads (413 beyond it); tickets are the largest, ~40 KB
    max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=1_073_741_824)

    # Asterisk side (used when rendering its configuration, and for paths Asterisk opens)
    sip_host: str = "127.0.0.1"
    sip_port: Port = 5060
    trunk_match: str = "127.0.0.1"
    # where calls out go (the provider's SBC, e.g. sip:192.0.2.10:5060); unset: no calls out
    trunk_contact: str = Field(default="", pattern=f"^({SIP_URI})?$")
    ami_permit: str = "127.0.0.1/255.255.255.255"

    # shared with Asterisk: rendered config, prompts, recordings, voicemail
    run_dir: Path = Path("var/run")
    # prompt directory as Asterisk sees it (defaults to <run_dir>/prompts)
    prompt_dir: Path | None = None
    # Asterisk's configuration directory as the engine sees it (<run_dir>/etc/asterisk)
    asterisk_conf_dir: Path | None = None
    # a Vosk model directory for voicemail transcripts; unset: transcripts stay pending
    vosk_model: Path | None = None

    # the official working-day calendars, one <year>.yaml each (adding a year is adding a file)
    calendar_dir: Path = REPO_ROOT / "calendars" / "cn"

    # IVR: the flow files operators edit, and which flow calls into 12345 run
    flows_dir: Path = REPO_ROOT / "ivr_flows"
    flow: str = Field(default="main", pattern=r"^[a-z0-9_-]{1,64}$")
    # the prompt catalogue flows are checked against (defaults to <flows_dir>/prompts.yaml)
    prompt_catalogue: Path | None = None
    flow_reload_seconds: float = Field(default=2.0, gt=0, le=300)
    # record every conversation with an agent (the hotline standard keeps them for review)
    record_calls: bool = True
    # after the agent hangs up, ask the caller to rate the service (满意度评价: 1, 2 or 3)
    satisfaction_survey: bool = True
    # the PJSIP endpoint flows' transfers go out through
    outbound_endpoint: str = Field(default="trunk", pattern=r"^[A-Za-z0-9_.-]{1,40}$")

    # routing and queueing
    ring_seconds: int = Field(default=15, ge=5, le=120)
    wrap_up_seconds: int = Field(default=10, ge=0, le=3600)
    max_wait_seconds: int = Field(default=300, ge=10, le=7200)
    announce_seconds: int = Field(default=30, ge=10, le=600)
    # overflow rules: "name:after_seconds:min_level:drop_prefix" entries separated by ","
    overflow_rules: str = "any-level:20:1:,drop-topic:60:1:topic:"
    # admission control: calls in the system and new calls per second
    max_calls: int = Field(default=300, ge=1, le=100_000)
    max_new_calls_per_second: float = Field(default=50.0, gt=0, le=10_000)
    # tries at calling back a citizen who asked for it before the request closes as unreachable
    callback_attempts: int = Field(default=3, ge=1, le=10)
    repeat_caller_hours: int = Field(default=24, ge=0, le=720)
    # honour skill hints in the X-CC-Route SIP header (only for a trusted upstream IVR/SBC)
    trunk_routing_header: bool = False

    # 回访 by telephone: the engine calls the citizen of every ticket awaiting its callback
    # survey through the trunk (so only with trunk_contact set), within local calling hours,
    # a few times with a pause between tries, on a limited number of lines
    # the leading engine moves them every night at this time (hotline time, HH:MM); empty:
    # only by hand (`archive-tickets`)
    ticket_archive_at: str = "03:00"

    survey_calls: bool = True
    survey_hours: str = "09:00-20:00"
    survey_attempts: int = Field(default=3, ge=1, le=10)
    survey_retry_minutes: int = Field(default=120, ge=1, le=10_080)
    survey_lines: int = Field(default=2, ge=1, le=100)
    survey_ring_seconds: int = Field(default=30, ge=5, le=120)
    survey_poll_seconds: float = Field(default=30.0, gt=0, le=3600)

    # the writer: records per transaction, how long a batch gathers, how long a reader (e.g.
    # /metrics/summary) waits for recent records before answering 503, and how long a stop
    # (SIGTERM/SIGINT) drains before leaving the rest in the journal for the next start
    writer_batch_rows: int = Field(default=500, ge=1, le=100_000)
    writer_batch_ms: int = Field(default=20, ge=0, le=10_000)
    writer_wait_seconds: float = Field(default=5.0, gt=0, le=600)
    stop_drain_seconds: float = Field(default=20.0, gt=0, le=3600)

    # diagnosis: trace Python's allocations and log the lines whose memory grew most every
    # this many minutes (0: off; slows allocations, not for production load)
    memory_trace_minutes: float = Field(default=0.0, ge=0, le=24 * 60)
    # hand the C heap's free pages back to the system this often (glibc malloc_trim; 0: never).
    # Off by default: two 30-minute soaks grew +1.7 MB with it and +1.4 MB without it, and each
    # run stalls allocations ~24 ms (services/heap_trim.py)
    heap_trim_seconds: float = Field(default=0.0, ge=0, le=24 * 3600)
    # the writer's journal and dead letters (default <run_dir>/spool/writer.sqlite3)
    writer_spool: Path | None = None
    # active/standby: the other engines' journals (on storage both reach), separated by ","; the
    # engine taking the lead writes what they still hold before anything else
    peer_spools: str = ""

    @field_validator("run_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @property
    def prompts(self) -> Path:
        return self.prompt_dir or self.run_dir / "prompts"

    @property
    def voicemail_dir(self) -> Path:
        return self.run_dir / "voicemail"

    @property
    def spool_path(self) -> Path:
        """The writer's journal and dead letters (a local SQLite file)."""
        return self.writer_spool or self.run_dir / "spool" / "writer.sqlite3"

    @property
    def recordings_dir(self) -> Path:
        """Conversation recordings, <recordings_dir>/YYYY/MM/DD/<linkedid>.wav."""
        return self.run_dir / "recordings"

    @property
    def record_calls_to(self) -> str | None:
        """Where conversations are recorded; None when CALLCENTER_RECORD_CALLS is false."""
        return str(self.recordings_dir) if self.record_calls else None

    @property
    def asterisk_conf(self) -> Path:
        """Where the engine writes the Asterisk configuration it owns (agents' softphones)."""
        return self.asterisk_conf_dir or self.run_dir / "etc" / "asterisk"

    def asterisk_values(self, *, module_dir: str, data_dir: str) -> dict[str, str]:
        """Placeholder values for the templates in asterisk_conf/ and dialplan/."""
        return {
            "RUN_DIR": str(self.run_dir),
            "MODULE_DIR": module_dir,
            "DATA_DIR": data_dir,
            "AMI_BIND": self.ami_host,
            "AMI_PORT": str(self.ami_port),
            "AMI_USER": self.ami_user,
            "AMI_SECRET": self.ami_secret.get_secret_value(),
            "AMI_PERMIT": self.ami_permit,
            "SIP_BIND": self.sip_host,
            "SIP_PORT": str(self.sip_port),
            "TRUNK_MATCH": self.trunk_match,
            "TRUNK_CONTACT": self.trunk_contact,
            "AGI_URL": f"agi://{self.agi_host}:{self.agi_port}",
            "AGI_URLS": "|".join(
                filter(None, [f"agi://{self.agi_host}:{self.agi_port}", self.standby_agi_urls])
            ),
            "SYSTEM_NAME": self.node_name,
            "AGENT_PROXY_CONTACT": self.agent_proxy_contact,
            "PROMPT_DIR": str(self.prompts),
        }

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, value: str) -> str:
        parse_nodes(value)
        return value

    @property
    def node_list(self) -> tuple[Node, ...]:
        """The Asterisk nodes the engine drives (one unnamed node without a cluster)."""
        return parse_nodes(self.nodes) or (Node("", self.ami_host, self.ami_port),)

    @property
    def peer_spool_paths(self) -> list[Path]:
        return [Path(part.strip()) for part in self.peer_spools.split(",") if part.strip()]

    @property
    def public_api_url(self) -> str:
        return self.api_url or f"http://{self.api_host}:{self.api_port}"

    @field_validator("ami_host", "agi_host", "sip_host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _host_name(value)

    @field_validator("ami_user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("must be letters, digits, - or _")
        return value

    @field_validator("ami_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 12:
            raise ValueError("must be at least 12 characters (there is no default secret)")
        if any(c in value.get_secret_value() for c in "\n\r;"):
            raise ValueError("must not contain newlines or ';'")
        return value

    @field_validator("overflow_rules")
    @classmethod
    def _overflow(cls, value: str) -> str:
        parse_overflow_rules(value)
        return value

    @property
    def overflow(self) -> tuple[OverflowRule, ...]:
        return parse_overflow_rules(self.overflow_rules)

    @field_validator("ticket_archive_at")
    @classmethod
    def _ticket_archive_at(cls, value: str) -> str:
        parse_time_of_day(value)
        return value

    @field_validator("survey_hours")
    @classmethod
    def _survey_hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @property
    def survey_policy(self) -> SurveyPolicy:
        return SurveyPolicy(
            max_attempts=self.survey_attempts,
            retry_after=timedelta(minutes=self.survey_retry_minutes),
            hours=parse_hours(self.survey_hours),
            concurrent=self.survey_lines,
            stale_after=timedelta(seconds=self.survey_ring_seconds + 600),
        )

    @field_validator("vosk_model")
    @classmethod
    def _vosk_model(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory (a Vosk model is a directory)")
        return value


def parse_overflow_rules(text: str) -> tuple[OverflowRule, ...]:
    """`any-level:20:1:,drop-topic:60:1:topic:` -> rules; raises ValueError naming the entry."""
    rules = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, after, level, drop = ([*entry.split(":", 3), "", "", ""])[:4]
        try:
            seconds = int(after)
            min_level = int(level) if level else None
        except ValueError:
            raise ValueError(f"entry {entry!r}: seconds and level must be numbers") from None
        if not name or seconds < 0 or (min_level is not None and not 1 <= min_level <= 5):
            raise ValueError(f"entry {entry!r}: want name:seconds:level(1-5):drop_prefix")
        drop_prefixes = (drop,) if drop else ()
        rules.append(OverflowRule(name, timedelta(seconds=seconds), min_level, drop_prefixes))
    return tuple(sorted(rules, key=lambda rule: rule.after))


SettingsT = TypeVar("SettingsT", bound=DatabaseSettings)


@overload
def load_settings(kind: None = None, **overrides: object) -> Settings: ...


@overload
def load_settings(kind: type[SettingsT], **overrides: object) -> SettingsT: ...


def load_settings(kind: type[DatabaseSettings] | None = None, **overrides: object) -> object:
    """Read and validate settings (all of them, or only a command's `kind`); raise
    SettingsError naming the first bad variable."""
    try:
        return (kind or Settings)(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        env = f"CALLCENTER_{field.upper()}"
        if first["type"] == "missing":
            raise SettingsError(f"setting {env} is required but not set") from None
        raise SettingsError(f"setting {env} is invalid: {first['msg']}") from None
