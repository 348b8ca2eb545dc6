"""The FastAPI application: :func:`create_app` builds it from :class:`~archgen.settings.Settings`."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from swagger_ui_bundle import swagger_ui_path

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen import __version__
from archgen.api.errors import install_error_handlers
from archgen.api.keys import KeyStore
from archgen.api.metrics import ServiceMetrics
from archgen.api.middleware import ServiceMiddleware
from archgen.api.routes import (
    curve_tables,
    generate,
    health,
    jobs,
    lookup,
    predict,
    predictors,
    searches,
    spaces,
    supernets,
    tasks,
    trainings,
    zero_cost,
)
from archgen.api.security import Authenticator, TokenBucket
from archgen.api.serving import ModelService
from archgen.api.state import ServiceState, require_key
from archgen.context import workspace
from archgen.db import get_engine
from archgen.errors import UnknownNameError
from archgen.jobs import JobManager, JobStore
from archgen.services.jobs import sweep_uploads
from archgen.settings import Settings, SettingsError

log = logging.getLogger("archgen.api")


def _check_defaults(state: ServiceState) -> None:
    for item in state.settings.default_models:
        space, task = item.split("/")
        try:
            state.check_task(space, task)
        except UnknownNameError as e:
            raise SettingsError(f"default_models entry {item!r}: {e}") from None


def _first_key(keys: KeyStore) -> None:
    if keys.count_active() == 0:
        key, secret = keys.create("default")
        sys.stdout.write(
            f"archgen: no API keys existed; created key {key.id!r} (name 'default'). It is shown once, here:\n"
            f"  {secret}\n"
            "Send it as 'Authorization: Bearer KEY'; manage keys with 'archgen keys create|list|revoke'.\n"
        )
        sys.stdout.flush()
        log.info("created the first API key %s", key.id)


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the installed ``swagger-ui-bundle`` (works without internet access)."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None, *, run_jobs: bool = True) -> FastAPI:
    """The archgen HTTP service.

    Args:
        settings: Everything configurable (default :meth:`Settings.from_env`).
        run_jobs: Start the job dispatcher (tests that only queue jobs turn it off).

    The lifespan loads the default spaces' tables, creates the first API key
    when there is none (printing it once), starts the job dispatcher, queues
    training of missing default predictors and loads the others in the
    background (``/v1/ready`` reports them).
    """
    settings = settings or Settings.from_env()
    data = workspace(settings.paths)
    jobs_store = JobStore(settings.db_url)
    keys = KeyStore(settings.db_url)
    metrics = ServiceMetrics(jobs_store.counts)
    models = ModelService(settings, data, jobs_store)
    state = ServiceState(
        settings=settings,
        data=data,
        jobs=jobs_store,
        keys=keys,
        auth=Authenticator(keys, TokenBucket(settings.rate_limit, settings.rate_burst)),
        metrics=metrics,
        models=models,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def start() -> None:
            _check_defaults(state)
            _first_key(keys)
            swept = sweep_uploads(settings.paths, jobs_store)  # before any job runs or upload arrives
            if swept:
                log.info("removed %d upload(s) no job will read", len(swept))
            if run_jobs:
                state.manager = JobManager(settings, jobs_store)
                state.manager.start()
            models.start(on_job=state.wake_jobs)

        await run_in_threadpool(start)
        log.info(
            "archgen %s serving; database %s; jobs on %s backend",
            __version__,
            get_engine(settings.db_url).url.render_as_string(hide_password=True),
            settings.worker_backend,
        )
        try:
            yield
        finally:
            log.info("shutting down: checkpointing running jobs")
            models.stop()
            state.supernet_pool.shutdown(wait=False, cancel_futures=True)
            if state.manager is not None:
                await run_in_threadpool(state.manager.stop)
            log.info("shut down")

    app = FastAPI(
        title="archgen",
        version=__version__,
        description=(
            "Accuracy predictors, zero-cost proxies, benchmark lookups and durable jobs for neural "
            "architecture search. Every /v1 endpoint but /v1/health needs 'Authorization: Bearer KEY'."
        ),
        lifespan=lifespan,
        docs_url=None,  # served below from local files: FastAPI's default page loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.service = state
    _offline_docs(app)
    install_error_handlers(app)
    app.add_middleware(
        ServiceMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes,
        upload_limits={("POST", "/v1/tasks"): settings.task_max_upload_bytes},
    )  # fmt: skip

    app.include_router(health.public)
    for module in (health, spaces, predict, zero_cost, lookup, predictors, generate, searches, trainings, tasks, supernets,
                   curve_tables, jobs):  # fmt: skip
        app.include_router(module.router, dependencies=[Depends(require_key)])

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
