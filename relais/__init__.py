"""The entry package: the composition root of Relais.

Everything is assembled here and nowhere else: :func:`relais.app.build_app` builds the hub's
services (:mod:`relais.services`) and mounts the faces (``bot``, ``admin``, ``api``) on one aiohttp
application; :mod:`relais.cli` is the ``relais`` command; :mod:`relais.keys` holds the typed keys
of the root application's state; :mod:`relais.demo` is the demo firm. The layers below never
import this package.
"""
