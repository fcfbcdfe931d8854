"""The operator console's page, stylesheet and script (package data served by ``adapter/console_http.py``)."""
