"""One registry idiom for every kind of named thing: models, methods, tasks, sources.

An entry is registered by name and created by name with keyword arguments.
Built-in entries are *declared* lazily (``"module:attribute"`` plus a one-line
description) so that listing them (``quanta models``) does not import torch;
user code registers objects directly with the :meth:`Registry.register`
decorator. A duplicate name is an error; an unknown one suggests the closest
match and names the command that lists them all.

Parameters are read from the constructor's signature (keyword arguments with
defaults) and validated with pydantic against its type hints, so a config file
gets the same checks and messages as a Python call. Ranges and choices are
declared in the hints: ``size: Annotated[int, Field(ge=2, description="an
integer >= 2")]``, ``view: Literal["a", "b"]``. A ``Field`` with a
``description`` names what the parameter must be, and a value outside it is
reported as ``"<entry>: <name> must be <description>; received <value>"``
(:func:`bad_param`, also for checks between parameters that the entry makes
itself; a word close to one of a ``Literal``'s choices adds ``"; did you mean
'<choice>'?"``). Other failures, and a value that cannot be read as the hinted
type at all (a word where a number belongs), read ``"<where>.<name>:
<pydantic's message>, received <value>"``. :func:`checked` applies the same
validation to a direct Python call: ``@checked`` on an entry function,
``@checked("cnn")`` on the ``__init__`` of the class registered as ``cnn``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from quanta.errors import UserError, closest, shown, unknown_name


@dataclass
class Entry:
    name: str
    target: str | Callable[..., Any]  # "module:attribute" until first use, then the object
    description: str

    def load(self) -> Callable[..., Any]:
        if isinstance(self.target, str):
            module, _, attribute = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attribute)
        return self.target


def summary_line(obj: Any) -> str:
    """First line of an object's docstring (its one-line description)."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry:
    """Names -> constructors of one kind (``model``, ``method``, ``task``, ``data source``)."""

    def __init__(self, kind: str, listing: str):
        self.kind = kind
        self.listing = listing  # the command that lists this registry, for error messages
        self._entries: dict[str, Entry] = {}

    # -- registering ---------------------------------------------------------
    def declare(self, name: str, target: str, description: str) -> None:
        """Register a built-in entry by import path without importing it."""
        self._add(Entry(name, target, description))

    def register(self, name: str, description: str | None = None) -> Callable[[Any], Any]:
        """Decorator registering a class or function under ``name``."""

        def decorate(obj: Any) -> Any:
            self._add(Entry(name, obj, description or summary_line(obj)))
            return obj

        return decorate

    def _add(self, entry: Entry) -> None:
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} '{entry.name}' is registered already")
        self._entries[entry.name] = entry

    # -- looking up ----------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """Name -> one-line description, without importing anything."""
        return {name: self._entries[name].description for name in self.names()}

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries, self.listing)
        return self._entries[name].load()

    def create(self, name: str, where: str | None = None, **params: Any) -> Any:
        """Create entry ``name`` with validated keyword parameters."""
        factory = self.get(name)
        return factory(**validate_params(factory, params, where or f"{self.kind} '{name}'"))


def parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters a constructor accepts, from its signature."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = dict(inspect.signature(target).parameters)
    params.pop("self", None)
    return {
        n: p
        for n, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def validate_params(
    factory: Callable[..., Any], params: dict[str, Any], where: str, supplied: tuple[str, ...] = (),
    entry: str | None = None,
) -> dict[str, Any]:
    """Check ``params`` against ``factory``'s signature and type hints.

    ``supplied`` names parameters that quanta fills in itself (e.g. the input
    shape of a model); the user may not set them. Raises :class:`UserError`
    naming ``where``, the parameter, the received value and what is allowed.
    ``entry`` names the entry in the messages of described fields (default: a
    class by ``where``, a function by its own name).
    """
    import pydantic

    accepted = parameters(factory)
    for key in params:
        if key not in accepted or key in supplied:
            allowed = [n for n in accepted if n not in supplied]
            guess = closest(key, allowed)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(
                f"{where}: unknown parameter '{key}'{hint} allowed: {', '.join(allowed) or 'none'}"
            )
    hints = _type_hints(factory)
    fields = {
        key: (hints.get(key, Any), ...)
        for key in params
    }
    model = pydantic.create_model("Params", __config__=pydantic.ConfigDict(arbitrary_types_allowed=True, strict=False), **fields)
    try:
        validated = model(**params)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0])
        allowed = model.model_fields[name].description
        unreadable = first["type"].endswith("_parsing") and len(first["loc"]) == 1  # e.g. "lots" for a number
        if allowed and not unreadable:
            if entry is None:
                # a source function is named by itself; a model or method class by its entry (where)
                entry = where if inspect.isclass(factory) else getattr(factory, "__name__", where)
            raise bad_param(entry, name, allowed, params[name], _choices(hints.get(name))) from None
        key = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"{where}.{key}: {first['msg'].lower()}, received {shown(params.get(first['loc'][0]))}"
        ) from None
    return {key: getattr(validated, key) for key in params}


def bad_param(entry: str, name: str, allowed: str, value: Any, choices: tuple[str, ...] = ()) -> UserError:
    """The one-line error for a parameter value outside what is allowed (to raise).

    A word close to one of ``choices`` gets a suggestion: ``...; received 'rleu'; did you mean 'relu'?``.
    """
    guess = closest(value, choices) if isinstance(value, str) and choices else None
    hint = f"; did you mean '{guess}'?" if guess else ""
    return UserError(f"{entry}: {name} must be {allowed}; received {value!r}{hint}")


def checked(entry: Callable[..., Any] | str) -> Callable[..., Any]:
    """Decorator: validate a direct call's parameters as :meth:`Registry.create` does.

    ``@checked`` on an entry function (a source) names the function in
    messages. ``@checked("cnn")`` on the ``__init__`` of a class registered as
    ``cnn`` checks every parameter but ``self`` and names the class by its
    entry: ``"cnn: dropout must be a number in [0, 1); received 1.5"``. The
    type hints (with their declared ranges and choices) are checked with
    :func:`validate_params`; the function then receives the validated values.
    ``functools.wraps`` keeps the signature and hints for the registry.
    """
    if isinstance(entry, str):
        return functools.partial(_checked, name=entry)
    return _checked(entry, entry.__name__)


def _checked(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    signature = inspect.signature(function)
    method = next(iter(signature.parameters), None) == "self"

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            given = dict(signature.bind(*args, **kwargs).arguments)
        except TypeError as error:  # a wrong or missing argument, named as Python names it
            raise TypeError(f"{function.__qualname__}() {error}") from None
        owner = (given.pop("self"),) if method else ()
        return function(*owner, **validate_params(function, given, name, entry=name))

    return call


def _choices(hint: Any) -> tuple[str, ...]:
    """The options of a ``Literal`` hint (inside ``Annotated``), as words; () for any other hint."""
    import typing

    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return tuple(str(c) for c in typing.get_args(hint)) if typing.get_origin(hint) is typing.Literal else ()


def _type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    import typing

    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target, include_extras=True)  # Annotated ranges are checked
    except (NameError, TypeError):  # a hint that cannot be resolved: check names only
        return {}
