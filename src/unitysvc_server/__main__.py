"""``python -m unitysvc_server``: the same commands as ``usvc server``."""

from unitysvc_server.cli import server_app

if __name__ == "__main__":
    server_app(prog_name="python -m unitysvc_server")
