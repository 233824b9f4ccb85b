"""The account-management close: ingest, staging, marts, reports and delivery.

Polars allocates through its own jemalloc, which it sets to return freed pages after
half a second, but only when it next allocates or frees (no background thread). A
step then starts with much of the previous step's freed memory still counted against
the process (2 to 5 GiB at 100,000 accounts). A background thread returns it on time
and keeps the close's peak near what one step needs. jemalloc reads this before Polars
is first imported, hence here; Polars appends it to its own defaults, and an
operator's own ``_RJEM_MALLOC_CONF`` is left as it is.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,muzzy_decay_ms:0")
