"""Reads the working-day calendar's data files (one YAML file a year) with file:line errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from callcenter.domain.errors import InvalidCalendar
from callcenter.domain.workdays import HOTLINE_TIMEZONE, CalendarFile, Holiday, WorkdayCalendar

DEFAULT_CALENDAR_DIR = Path(__file__).resolve().parents[2] / "calendars" / "cn"
_TOP_KEYS = {"year", "timezone", "source", "holidays"}
_HOLIDAY_KEYS = {"name", "from", "to", "working"}


def load_calendar(*paths: Path) -> WorkdayCalendar:
    """Read calendar files, or every ``*.yaml`` in directories (e.g. ``calendars/cn``)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    if not files:
        raise InvalidCalendar(f"no calendar files in {', '.join(map(str, paths))}")
    sources = []
    for file in files:
        try:
            sources.append((str(file), file.read_text(encoding="utf-8")))
        except OSError as err:
            raise InvalidCalendar(f"{file}: cannot read: {err.strerror}") from err
    return parse_calendar(sources)


def parse_calendar(sources: list[tuple[str, str]]) -> WorkdayCalendar:
    """One calendar from (file name, YAML text) pairs."""
    return WorkdayCalendar.from_files(_parse_file(name, text) for name, text in sources)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps nodes so every error can name its line."""


def _parse_file(name: str, text: str) -> CalendarFile:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise InvalidCalendar(f"{name}:{line}: not valid YAML: {err}") from err
    if root is None:
        raise InvalidCalendar(f"{name}:1: empty calendar file")
    top = _mapping(name, root, _TOP_KEYS, required={"year", "holidays"})
    year = _int(name, top["year"])
    stem = Path(name).stem
    if stem.isdigit() and int(stem) != year:
        raise InvalidCalendar(f"{_at(name, top['year'])}: year {year} in a file named {stem}")
    tz_name = _str(name, top["timezone"]) if "timezone" in top else HOTLINE_TIMEZONE
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidCalendar(f"{_at(name, top['timezone'])}: unknown timezone {tz_name}") from err
    if "source" in top:
        _str(name, top["source"])
    holidays_node = top["holidays"]
    if not isinstance(holidays_node, yaml.SequenceNode):
        raise InvalidCalendar(f"{_at(name, holidays_node)}: holidays must be a list")
    lowest, highest = date(year - 1, 12, 1), date(year + 1, 1, 31)
    entries = []
    for node in holidays_node.value:
        fields = _mapping(name, node, _HOLIDAY_KEYS, required={"name", "from", "to"})
        first, last = _date(name, fields["from"]), _date(name, fields["to"])
        working: list[date] = []
        if "working" in fields:
            days_node = fields["working"]
            if not isinstance(days_node, yaml.SequenceNode):
                raise InvalidCalendar(f"{_at(name, days_node)}: working must be a list of dates")
            working = [_date(name, item) for item in days_node.value]
        for day, where in [(first, fields["from"]), (last, fields["to"])] + [
            (day, fields["working"]) for day in working
        ]:
            if not lowest <= day <= highest:
                raise InvalidCalendar(f"{_at(name, where)}: {day} is outside the {year} schedule")
        if last < first:
            raise InvalidCalendar(f"{_at(name, fields['to'])}: 'to' {last} is before {first}")
        holiday = Holiday(_str(name, fields["name"]), first, last, tuple(working))
        entries.append((holiday, _at(name, node)))
    return CalendarFile(name, year, tz_name, tuple(entries))


def _at(name: str, node: yaml.Node) -> str:
    return f"{name}:{node.start_mark.line + 1}"


def _mapping(
    name: str, node: yaml.Node, allowed: set[str], required: set[str]
) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise InvalidCalendar(f"{_at(name, node)}: expected a mapping")
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in fields:
            raise InvalidCalendar(f"{_at(name, key_node)}: duplicate key '{key}'")
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise InvalidCalendar(
                f"{_at(name, key_node)}: unknown key '{key}' (expected {expected})"
            )
        fields[key] = value_node
    missing = sorted(required - fields.keys())
    if missing:
        raise InvalidCalendar(f"{_at(name, node)}: missing {', '.join(missing)}")
    return fields


def _str(name: str, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise InvalidCalendar(f"{_at(name, node)}: expected a non-empty text")
    return str(node.value).strip()


def _int(name: str, node: yaml.Node) -> int:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        return int(node.value)
    raise InvalidCalendar(f"{_at(name, node)}: expected a year such as 2026")


def _date(name: str, node: yaml.Node) -> date:
    if isinstance(node, yaml.ScalarNode):
        try:
            return date.fromisoformat(str(node.value))
        except ValueError:
            pass
    raise InvalidCalendar(f"{_at(name, node)}: expected a date written YYYY-MM-DD")
