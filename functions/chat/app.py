from fastapi import FastAPI

from functions.chat.routes import chat_router
from functions.common.app import service_app
from letslive.constants import Service


def create_app() -> FastAPI:
    return service_app(Service.CHAT, routers=[chat_router()])
