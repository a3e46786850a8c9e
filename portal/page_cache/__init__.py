"""Security pages answered from a cache while the data they show has not changed.

`versions`: a data version that changes with every committed write to a table the pages read,
kept by PostgreSQL statement triggers (so every door that writes, the ORM, bulk SQL, COPY, the
admin or a Celery task, moves it). `pages`: the view decorator that keeps a page's HTML per user,
address and data version."""
