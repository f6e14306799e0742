import os

from django.core.asgi import get_asgi_application

from config.settings import settings_module

os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)
# As config/wsgi.py: the web's waits on the database are the tighter ones.
os.environ.setdefault("DJANGO_PROCESS_KIND", "web")

application = get_asgi_application()
