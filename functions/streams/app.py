from fastapi import FastAPI

from functions.common.app import service_app
from functions.streams.restream import restream_router
from functions.streams.routes import streams_router
from letslive.constants import Service


def create_app() -> FastAPI:
    return service_app(Service.STREAMS, routers=[streams_router(), restream_router()])
