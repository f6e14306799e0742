import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The web's waits on the database are the tighter ones (settings.DATABASE_TIMEOUTS).
os.environ.setdefault("DJANGO_PROCESS_KIND", "web")

application = get_wsgi_application()
