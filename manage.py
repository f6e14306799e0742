#!/usr/bin/env python
import os
import sys

from config.settings import settings_module


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)
    if sys.argv[1:2] == ["migrate"]:
        # No statement timeout for a migration (settings.DATABASE_TIMEOUTS), a lock timeout still.
        os.environ.setdefault("DJANGO_PROCESS_KIND", "maintenance")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
