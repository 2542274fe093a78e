"""What the layered loader needs to know about a settings model: names, defaults, secrets."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "MASK",
    "SECRET_KEY",
    "FeatureFlags",
    "display_text",
    "field_names",
    "import_model",
    "is_secret_type",
    "mask_value",
    "model_defaults",
    "model_of",
    "plain_value",
    "project_options",
    "secret_paths",
    "submodel",
]

KeyPath = tuple[str, ...]

SECRET_KEY = re.compile(
    r"(^|[_.-])(pass(word|wd|phrase)?|secret([_-]?key)?|token|api[_-]?key|private[_-]?key|"
    r"credentials?|signing[_-]?key|access[_-]?key|auth[_-]?key|dsn)$",
    re.IGNORECASE,
)
"""A key or variable name that holds a secret: ``DB_PASSWORD``, ``api_key``, ``jwt_secret``."""
URL_PASSWORD = re.compile(
    r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)"  # scheme://user:
    r"([^\s]*?)"  # the password, which may hold "/", "," or even "@"
    r"(@)(?=[^\s@;,]*(?:[\s;,'\"]|$))",  # the last "@" before the host
    re.IGNORECASE,
)
"""The password of every ``scheme://user:password@host`` in a text, wherever it stands."""
MASK = "********"


class FeatureFlags(BaseModel):
    """Typed feature flags: boolean fields only, unknown flags rejected, set per environment."""

    model_config = {"extra": "forbid", "frozen": True}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if info.annotation is not bool:
                raise TypeError(f"{cls.__name__}.{name}: feature flags must be bool")

    @property
    def enabled(self) -> list[str]:
        """Names of the flags that are on, sorted."""
        return sorted(name for name in type(self).model_fields if getattr(self, name))


def display_text(value: Any, *, mask_urls: bool = False) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text) if mask_urls else text


def mask_value(value: Any) -> str:
    """Secrets print as a fixed mask; an empty or missing secret stays visible as such."""
    if value is None or value == "":
        return '""' if value == "" else "null"
    return MASK


def plain_value(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return secret.decode(errors="replace") if isinstance(secret, bytes) else secret
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(item) for item in value]
    return value


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside ``annotation`` (``Model``, ``Model | None``, ``Annotated[...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return model_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        models = [m for arg in typing.get_args(annotation) if (m := model_of(arg))]
        return models[0] if len(models) == 1 else None
    return None


def is_secret_type(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(is_secret_type(arg) for arg in typing.get_args(annotation))


def field_names(model: type[BaseModel] | None) -> dict[str, str]:
    if model is None:
        return {}
    names = {name.lower(): name for name in model.model_fields}
    for info in model.model_fields.values():
        if info.alias:
            names.setdefault(info.alias.lower(), info.alias)
    return names


def submodel(model: type[BaseModel] | None, name: str) -> type[BaseModel] | None:
    if model is None or name not in model.model_fields:
        return None
    return model_of(model.model_fields[name].annotation)


def secret_paths(model: type[BaseModel], prefix: KeyPath = ()) -> set[KeyPath]:
    paths: set[KeyPath] = set()
    for name, info in model.model_fields.items():
        if is_secret_type(info.annotation):
            paths.add((*prefix, name))
        sub = model_of(info.annotation)
        if sub is not None and len(prefix) < 10:
            paths |= secret_paths(sub, (*prefix, name))
    return paths


def model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            continue
        value = info.get_default(call_default_factory=True, validated_data={})
        defaults[name] = value.model_dump() if isinstance(value, BaseModel) else value
    return defaults


def project_options(root: Path) -> dict[str, Any]:
    """``[tool.shipshape]`` of ``root/pyproject.toml`` (empty when there is none)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{pyproject}: cannot read [tool.shipshape]: {error}") from None
    options = data.get("tool", {}).get("shipshape", {})
    return options if isinstance(options, dict) else {}


def import_model(spec: str, root: Path) -> type[BaseModel]:
    """Import ``module:Class`` with ``root`` and ``root/src`` first on the import path."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"settings model {spec!r}: expected module:Class")
    for path in (root / "src", root):
        if str(path.resolve()) not in sys.path:
            sys.path.insert(0, str(path.resolve()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ValueError(f"settings model {spec!r}: no module named {error.name!r}") from None
    except Exception as error:
        message = f"importing {module_name} failed: {type(error).__name__}: {error}"
        raise ValueError(f"settings model {spec!r}: {message}") from None
    value: Any = module
    for part in attribute.split("."):
        value = getattr(value, part, None)
    if not (isinstance(value, type) and issubclass(value, BaseModel)):
        raise ValueError(f"settings model {spec!r}: {attribute} is not a Pydantic model class")
    return value
