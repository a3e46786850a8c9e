"""What the Celery broker holds: messages waiting per queue (for the health partial and metrics)."""
from portal.celery import app


def queue_depths(names: list[str], timeout: float = 2.0) -> dict[str, int]:
    """{queue: messages waiting} for each name; raises when the broker does not answer within
    `timeout` (a page must not hang on it). Counts what the transport holds for the queue (Redis:
    the list and its priority lists); messages a worker has taken but not started are not counted."""
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)
        channel = connection.default_channel
        return {name: int(channel._size(name)) for name in names}
