from fastapi import FastAPI

from functions.auth.routes import router
from functions.common.app import service_app
from letslive.constants import Service


def create_app() -> FastAPI:
    return service_app(Service.AUTH, routers=[router])
