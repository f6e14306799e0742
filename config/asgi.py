import os

from django.core.asgi import get_asgi_application

from config.settings import settings_module

os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)

application = get_asgi_application()
