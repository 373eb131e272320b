"""The self-hostable UnitySVC platform: the control-plane API (``/v1``) and the gateway.

Rooms, imports going one way (``docs/architecture.md``, checked by ``lint-imports``):
``app`` → ``observability`` → ``api`` | ``gateway`` | ``components`` → ``runtime`` →
``domain`` → ``storage`` | ``routing`` → ``catalog``. Entry points: ``usvc server ...``
(:mod:`unitysvc_server.cli`), :func:`unitysvc_server.app.create_app`, and
:class:`unitysvc_server.local_platform.LocalPlatform`.
"""
