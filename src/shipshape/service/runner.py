"""``shipshape serve``: uvicorn with the production layer, one worker or many."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from pydantic import ValidationError

from shipshape.service.app import ProductionApp, production
from shipshape.service.settings import ServiceSettings
from shipshape.stores import StoreError, check_store_url

__all__ = ["APP_ENV", "DEFAULT_APP", "create_app", "load_app", "run", "service_settings"]

logger = logging.getLogger(__name__)

APP_ENV = "SHIPSHAPE_APP"
DEFAULT_APP = "shipshape.examples.orders:create_app"


class AppLoadError(ValueError):
    """MODULE:APP could not be imported or is not an ASGI application."""


def load_app(reference: str) -> Any:
    """Import ``module:attribute``; a factory function (``create_app``) is called."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise AppLoadError(f"{reference!r}: expected MODULE:APP, e.g. myapp.main:app")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise AppLoadError(
            f"{reference!r}: cannot import module {module_name!r} ({error})"
        ) from None
    except Exception as error:  # a SyntaxError, or the module's own code raising
        raise AppLoadError(
            f"{reference!r}: importing {module_name!r} failed: {_summary(error)}"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(
                f"{reference!r}: module {module_name!r} has no {attribute!r}"
            ) from None
    if not callable(target):
        raise AppLoadError(f"{reference!r}: {attribute!r} is not an ASGI application")
    if _is_async_factory(target):
        raise AppLoadError(
            f"{reference!r}: {attribute!r} is an async function without arguments; give a "
            "plain function that returns the app, or the app itself"
        )
    if _is_factory(target):
        try:
            target = target()
        except Exception as error:
            raise AppLoadError(
                f"{reference!r}: the factory {attribute!r} failed: {_summary(error)}"
            ) from None
    return target


def _summary(error: BaseException) -> str:
    """One line for an error raised by the app's code: what, and where."""
    where = ""
    if isinstance(error, SyntaxError) and error.filename:
        where = f" at {error.filename}:{error.lineno}"
    elif error.__traceback__ is not None:
        frame = error.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        where = f" at {frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}{': ' + text if text else ''}{where}"


def _is_async_factory(target: Any) -> bool:
    import inspect

    if not inspect.iscoroutinefunction(target):
        return False
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    return not any(p.default is inspect.Parameter.empty for p in parameters.values())


def _is_factory(target: Any) -> bool:
    import inspect

    if inspect.isclass(target) or (callable(target) and not inspect.isfunction(target)):
        return False
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return not required and not inspect.iscoroutinefunction(target)


def service_settings() -> ServiceSettings:
    """``ServiceSettings`` for ``SHIPSHAPE_ENV`` (default ``dev``), layered from the
    working directory: defaults < ``config/base.*`` < ``config/<env>.*`` < ``.env`` <
    ``SHIPSHAPE_*`` variables < secrets directory.
    """
    from shipshape.deploy.settings_layers import load_settings

    env = os.environ.get("SHIPSHAPE_ENV", "dev")
    return load_settings(ServiceSettings, env=env, root=os.getcwd(), overrides={"env": env})


def create_app() -> ProductionApp:
    """Uvicorn factory: the app named by ``SHIPSHAPE_APP`` wrapped in the layer."""
    app = load_app(os.environ.get(APP_ENV, DEFAULT_APP))
    if isinstance(app, ProductionApp):
        return app
    return production(app, service_settings())


def run(
    app: str | None = None,
    *,
    env: str | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> None:
    """Serve ``app`` (MODULE:APP) or the bundled example under uvicorn."""
    import uvicorn

    overrides = {
        "ENV": env,
        "HOST": host,
        "PORT": None if port is None else str(port),
        "WORKERS": None if workers is None else str(workers),
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"SHIPSHAPE_{name}"] = value
    os.environ[APP_ENV] = app or DEFAULT_APP
    try:
        settings = service_settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"settings: {where}: {first['msg']}") from None

    if settings.ratelimit.enabled:
        try:  # fail fast, with one line, before any worker starts
            check_store_url(settings.ratelimit.store_url)
        except StoreError as error:
            raise ValueError(f"settings: ratelimit.store_url: {error}") from None
    if settings.workers > 1:
        _warn_unshared_buckets(settings)
    metrics_dir = None
    if settings.workers > 1 and settings.metrics.enabled and not settings.metrics.multiprocess_dir:
        metrics_dir = tempfile.mkdtemp(prefix="shipshape-metrics-")
        os.environ["SHIPSHAPE_METRICS__MULTIPROCESS_DIR"] = metrics_dir
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_config": None,
        "lifespan": "on",
        # the layer believes X-Forwarded-* from ratelimit.trusted_proxies only;
        # uvicorn's own default would believe any local peer's
        "proxy_headers": False,
    }
    try:
        if settings.workers > 1:
            load_app(os.environ[APP_ENV])  # fail fast, in the supervisor, on a bad MODULE:APP
            uvicorn.run(
                "shipshape.service.runner:create_app",
                factory=True,
                workers=settings.workers,
                **options,
            )
        else:
            app_object = load_app(os.environ[APP_ENV])
            if not isinstance(app_object, ProductionApp):
                app_object = production(app_object, settings)
            uvicorn.run(app_object, **options)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _warn_unshared_buckets(settings: ServiceSettings) -> None:
    """Say, in the supervisor, that ``memory://`` rate limits are per worker."""
    limits = settings.ratelimit
    if not limits.enabled or not limits.store_url.startswith("memory:"):
        return
    if settings.logs.configure_logging:
        from shipshape.observe.logs import Redactor, configure_logging

        configure_logging(settings.logs.level, Redactor(settings.logs.redact_keys))
    logger.warning(
        "ratelimit.store_url is memory:// with %d workers: each worker keeps its own "
        "buckets, so a client can get up to %d times a policy's capacity and rate; "
        "a redis:// store shares them",
        settings.workers,
        settings.workers,
    )
