from fastapi import FastAPI

from functions.common.app import service_app
from functions.users.routes import users_router
from letslive.constants import Service


def create_app() -> FastAPI:
    return service_app(Service.USERS, routers=[users_router()])
