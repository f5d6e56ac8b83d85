"""Roles and what each may do: the one table every API route is checked against."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callcenter.domain.errors import Forbidden


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    DEPARTMENT = "department"
    # center staff who review, publish and retire knowledge-base entries
    KNOWLEDGE_EDITOR = "knowledge_editor"
    ADMIN = "admin"


class Permission(StrEnum):
    READ_CALLS = "calls:read"
    # listen to, whisper to or barge in on an agent's call (监听/密语/强插)
    MONITOR_CALLS = "calls:monitor"
    MANAGE_TOKENS = "tokens:manage"
    # people's accounts (name + password): create, disable, reset a password
    MANAGE_USERS = "users:manage"
    # tickets (工单): the center creates, dispatches, reviews and calls back; departments handle
    CREATE_TICKETS = "tickets:create"
    READ_TICKETS = "tickets:read"
    DISPATCH_TICKETS = "tickets:dispatch"
    REVIEW_TICKETS = "tickets:review"
    CALLBACK_TICKETS = "tickets:callback"
    HANDLE_TICKETS = "tickets:handle"
    NOTE_TICKETS = "tickets:note"
    SUPERVISE_TICKETS = "tickets:supervise"
    READ_TICKET_STATS = "tickets:stats"
    MANAGE_TICKET_POLICY = "tickets:policy"
    READ_DEPARTMENTS = "departments:read"
    MANAGE_DEPARTMENTS = "departments:manage"
    MANAGE_TOPICS = "topics:manage"
    MANAGE_AGENTS = "agents:manage"
    READ_AGENTS = "agents:read"
    # act on an agent seat (log in, ready, pause, ...): agents on their own seat only
    OPERATE_SEAT = "seat:operate"
    READ_QUEUES = "queues:read"
    READ_METRICS = "metrics:read"
    # the callback worklist (回拨): callers who asked to be called back
    HANDLE_CALLBACKS = "callbacks:handle"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(
        {Permission.OPERATE_SEAT, Permission.READ_QUEUES, Permission.HANDLE_CALLBACKS}
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.READ_CALLS,
            Permission.MONITOR_CALLS,
            Permission.READ_AGENTS,
            Permission.OPERATE_SEAT,
            Permission.READ_QUEUES,
            Permission.READ_METRICS,
            Permission.HANDLE_CALLBACKS,
        }
    ),
    Role.DEPARTMENT: frozenset(),
    Role.KNOWLEDGE_EDITOR: frozenset(),
    Role.ADMIN: frozenset(Permission),
}

_CENTER_TICKETS = frozenset(
    {
        Permission.CREATE_TICKETS,
        Permission.READ_TICKETS,
        Permission.DISPATCH_TICKETS,
        Permission.CALLBACK_TICKETS,
        Permission.NOTE_TICKETS,
        Permission.READ_DEPARTMENTS,
    }
)
TICKET_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _CENTER_TICKETS,
    Role.SUPERVISOR: _CENTER_TICKETS
    | {Permission.REVIEW_TICKETS, Permission.SUPERVISE_TICKETS, Permission.READ_TICKET_STATS},
    # scoped to the department named by the token's subject (see domain/tickets.visible_to)
    Role.DEPARTMENT: frozenset(
        {
            Permission.READ_TICKETS,
            Permission.HANDLE_TICKETS,
            Permission.NOTE_TICKETS,
            Permission.READ_TICKET_STATS,
            Permission.READ_DEPARTMENTS,
        }
    ),
}
GRANTS = {role: granted | TICKET_GRANTS.get(role, frozenset()) for role, granted in GRANTS.items()}


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    name: str
    role: Role
    # the agent id of an agent, the department code of a department handler
    subject: str | None = None


def require(principal: Principal, permission: Permission) -> None:
    if permission not in GRANTS[principal.role]:
        raise Forbidden(f"role {principal.role.value} may not {permission.value}")


def require_own_seat(principal: Principal, agent_id: str) -> None:
    """Agents operate their own seat only; supervisors and admins any seat."""
    require(principal, Permission.OPERATE_SEAT)
    if principal.role is Role.AGENT and principal.subject != agent_id:
        raise Forbidden(f"an agent token may only operate its own seat, not agent {agent_id}")
