"""What the app is created with (web/app.py's `create_app`), before anything is opened.

Handlers do not read these: they reach everything through `services(request)`
(web/services.py), which is built from them at start-up.
"""

from __future__ import annotations

from aiohttp import web

from secure_msg.clock import Clock
from secure_msg.config import Config
from secure_msg.crypto.rng import Rng

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
RNG: web.AppKey[Rng] = web.AppKey("rng")
