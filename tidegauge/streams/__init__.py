"""Real-time streams: Kafka topics and consumer groups watched like tables.

A topic is stored as a table ``<stream>:kafka.<topic>`` whose metric points are minute
buckets (messages, bytes, freshness, partition skew, consumer lag per group, payload
profile), so that detection, incidents, notifications, the UI and the API treat it like
any table. The Kafka client (``confluent-kafka``, the ``kafka`` extra) is imported only
when a stream is polled.

To add another broker type: a ``<type>.py`` adapter with the methods of
:class:`tidegauge.streams.kafka.KafkaStream`, and a config class in ``config.py``.
"""

from tidegauge.streams.probe import Observer, observe

__all__ = ["Observer", "observe"]
