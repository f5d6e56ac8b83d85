"""JSON form of the domain's frozen dataclasses, for the write journal and the dead letters."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


_PLAIN = frozenset({str, int, float, bool, type(None)})


def encode(value: object) -> Any:
    """Plain JSON data: dataclasses become objects, instants ISO text, enums their value."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    names = _FIELDS[kind] if kind in _FIELDS else _field_names(kind)
    if names is not None:
        # every record the engine writes is journalled first: plain fields without a call
        data = {}
        for name in names:
            item = getattr(value, name)
            item_kind = type(item)
            if item_kind in _PLAIN:
                data[name] = item
            elif item_kind is datetime:
                data[name] = item.isoformat()
            else:
                data[name] = encode(item)
        return data
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot journal a {kind.__name__}")


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    if kind not in _FIELDS:
        is_record = dataclasses.is_dataclass(kind)
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind)) if is_record else None
    return _FIELDS[kind]


def decode(kind: type[T], data: Any) -> T:
    """The inverse of `encode` for a dataclass type (fields read from its annotations)."""
    return typing.cast(T, _decode(kind, data))


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _decode(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        last: Exception | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _decode(arg, data)
            except (TypeError, ValueError) as err:
                last = err
        raise TypeError(f"{data!r} fits none of {hint}") from last
    if origin is typing.Literal:
        if data not in args:
            raise ValueError(f"{data!r} is not one of {args}")
        return data
    if origin is tuple:
        item = args[0] if args else Any
        return tuple(_decode(item, element) for element in data)
    if origin is list:
        return [_decode(args[0] if args else Any, element) for element in data]
    if origin is dict:
        value_hint = args[1] if len(args) == 2 else Any
        return {str(key): _decode(value_hint, item) for key, item in data.items()}
    if hint is Any:
        return data
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            if not isinstance(data, dict):
                raise TypeError(f"{hint.__name__} needs an object, not {data!r}")
            hints = _hints(hint)
            return hint(**{name: _decode(hints[name], item) for name, item in data.items()})
        if issubclass(hint, enum.Enum):
            return hint(data)
        if hint is datetime:
            if not isinstance(data, str):
                raise TypeError(f"an instant needs ISO text, not {data!r}")
            return datetime.fromisoformat(data)
        if hint is float and isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        if hint in (str, int, bool) and type(data) is hint:
            return data
        raise TypeError(f"{data!r} is not a {hint.__name__}")
    raise TypeError(f"cannot decode {hint!r}")
