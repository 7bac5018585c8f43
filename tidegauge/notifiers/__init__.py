"""Notifiers: deliver an incident to Slack, Teams, PagerDuty, Opsgenie, email or a webhook.

An incident becomes one neutral :class:`~tidegauge.notifiers.messages.Message` (a title, a
summary and a list of typed blocks) and each notifier renders that message in its own format
(Block Kit, Adaptive Card, Events API v2, HTML email, signed JSON). Routing
(:mod:`tidegauge.notifiers.routing`) decides which channels get it and when; the store's
outbox calls :meth:`Notifier.send <tidegauge.notifiers.base.Notifier.send>` and retries on
:class:`~tidegauge.notifiers.base.RetryableDeliveryError`.

How to add a notifier
---------------------
1. Write ``tidegauge/notifiers/<type>.py`` with a ``<Type>Notifier(Notifier)`` (or
   ``HttpNotifier`` for anything spoken over HTTP) that implements ``send`` and raises
   ``RetryableDeliveryError`` / ``PermanentDeliveryError``. Add its config class
   (``type: Literal["<type>"]``, subclassing ``ChannelBase``) to ``config.py`` and to the
   ``Channel`` union.
2. Add one line to ``NOTIFIERS`` in ``base.py``: ``"<type>": "tidegauge.notifiers.<type>:
   <Type>Notifier"``. Modules are imported only when a channel of that type is loaded.

Third-party packages skip both steps: they expose their class under the entry-point group
``tidegauge.notifiers`` with the channel ``type`` as the entry-point name, and pass their own
config model (any pydantic model with ``type`` and ``name``) to ``load_notifier``.

Module name = config ``type:`` = entry-point name. Tests use real loopback servers
(``tests/notifiers/servers.py``), never mocks.
"""
