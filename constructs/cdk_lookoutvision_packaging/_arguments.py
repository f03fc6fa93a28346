"""The one type check at the library's boundary: a wrong type is a TypeError naming the parameter and what it takes,
as jsii-generated constructs raise for every argument, instead of an AttributeError from deep inside."""

from __future__ import annotations

from typing import Any

_SHOWN_CHARS = 80


def check_type(parameter: str, value: object, kinds: type | tuple[type, ...], takes: str, *, optional: bool) -> None:
    """Raise a TypeError unless ``value`` is one of ``kinds`` (or None when ``optional``).

    ``takes`` says what the parameter takes, with an example, in the caller's words. A bool is never a number here
    (Python makes it an int). A kind may be a jsii interface such as ``s3.IBucket``, which Python's isinstance cannot
    check: the value's jsii type, or an interface it declares, must be that interface or extend it.
    """
    if value is None and optional:
        return
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in wanted:
        matches = False
    else:
        matches = any(_is_a(value, kind) for kind in wanted)
    if not matches:
        raise TypeError(f"{parameter} takes {takes}{' or None' if optional else ''}; got {shown(value)}")


def shown(value: object) -> str:
    """A value's type and repr, cut to one readable line."""
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return f"{type(value).__name__} {text}"


def _is_a(value: object, kind: type) -> bool:
    jsii_type = getattr(kind, "__jsii_type__", None)
    if jsii_type is None or not getattr(kind, "_is_protocol", False):
        return isinstance(value, kind)
    # A jsii interface is a typing Protocol that isinstance refuses; jsii records on each class the interfaces it
    # implements (__jsii_ifaces__) and on a proxy class the jsii type it stands for (__jsii_type__).
    for cls in type(value).__mro__:
        if getattr(cls, "__jsii_type__", None) == jsii_type:
            return True
        for interface in getattr(cls, "__jsii_ifaces__", ()):
            if any(getattr(base, "__jsii_type__", None) == jsii_type for base in _bases(interface)):
                return True
    return False


def _bases(interface: Any) -> tuple[Any, ...]:
    return tuple(getattr(interface, "__mro__", (interface,)))
