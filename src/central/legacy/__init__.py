"""Import from the legacy systems (``central import-legacy``): the PHP dialer's MariaDB and
the AudioSocket server's PostgreSQL. See docs/legacy-import.md.

* :mod:`.mapping` is pure: a legacy row (a dict as the driver returns it) becomes Central
  values plus what was repaired, normalised or rejected, per row.
* :mod:`.sources` streams rows out of MariaDB / PostgreSQL (server-side cursors).
* :mod:`.runner` drives both and hands the values to each app's own functions
  (``central.dialer.legacy``, ``central.telephony.legacy``, ``central.voice.legacy``): this
  package writes no other app's tables.
"""
