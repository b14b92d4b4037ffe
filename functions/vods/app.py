from fastapi import FastAPI

from functions.common.app import service_app
from functions.vods.clips import clips_router
from functions.vods.routes import vods_router
from letslive.constants import Service


def create_app() -> FastAPI:
    return service_app(Service.VODS, routers=[vods_router(), clips_router()])
