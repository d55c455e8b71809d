"""A FAKE Google Calendar API v3 server for the tests (no machine here reaches Google).

It follows the documented shapes and error codes for what the agenda uses:

* events.insert / update / delete / list, with client-supplied ids (base32hex, 5-1024
  characters, unique per calendar; a duplicate insert is 409, an update of a missing event
  404, a delete of a deleted event 410):
  https://developers.google.com/calendar/api/v3/reference/events (insert, update, delete, list)
  and the Event resource's ``id`` rules.
* incremental sync: ``nextSyncToken`` on the last page, ``syncToken`` returns the events
  changed since (deleted ones with ``status: cancelled``), and an invalidated token answers
  **410 Gone** so the client must wipe and do a full sync:
  https://developers.google.com/calendar/api/guides/sync
* freeBusy.query (``timeMin``, ``timeMax``, ``items: [{id}]`` → ``calendars[id].busy``):
  https://developers.google.com/calendar/api/v3/reference/freebusy/query
* push notifications: ``events.watch`` answers an ``api#channel`` with ``resourceId`` and
  ``expiration`` (ms since the epoch), ``channels.stop`` ends it:
  https://developers.google.com/calendar/api/guides/push

Not modelled: recurrence, attendees, ETags, quotas, paging beyond ``maxResults``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

ID_RULE = re.compile(r"[a-v0-9]{5,1024}")


def _error(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {"error": {"code": code, "message": message, "errors": [{"reason": reason, "message": message}]}}


class FakeCalendar:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, dict]] = {}  # calendar -> id -> event
        self.version = 0  # bumped on every change; sync tokens carry the version they saw
        self.min_valid_token = 0
        self.channels: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.channel_ttl_ms = 7 * 24 * 3600 * 1000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/calendar/v3/"

    def start(self) -> FakeCalendar:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- test helpers (what a person does in Google Calendar) ---------------------------

    def add_personal_event(self, calendar: str, start: str, end: str, *, transparent: bool = False) -> str:
        with self.lock:
            eid = uuid.uuid4().hex
            self._store(calendar, {"id": eid, "start": {"dateTime": start}, "end": {"dateTime": end},
                                   "summary": "particular", **({"transparency": "transparent"} if transparent else {})})
            return eid

    def cancel_event(self, calendar: str, eid: str) -> None:
        with self.lock:
            ev = self.events[calendar][eid]
            self._store(calendar, {**ev, "status": "cancelled"})

    def invalidate_sync_tokens(self) -> None:
        """What Google does when a token expires or the ACL changes: every older token is 410."""
        with self.lock:
            self.version += 1
            self.min_valid_token = self.version

    def live(self, calendar: str) -> dict[str, dict]:
        return {k: v for k, v in self.events.get(calendar, {}).items() if v.get("status") != "cancelled"}

    # --- the API ----------------------------------------------------------------------------

    def _store(self, calendar: str, event: dict) -> dict:
        self.version += 1
        event = {"kind": "calendar#event", "status": "confirmed", **event, "_v": self.version}
        self.events.setdefault(calendar, {})[event["id"]] = event
        return event

    @staticmethod
    def _public(event: dict) -> dict:
        return {k: v for k, v in event.items() if not k.startswith("_")}

    def handle(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict | None]:
        self.requests.append((method, path))
        m = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?", path)
        with self.lock:
            if m and m.group(2) == "watch" and method == "POST":
                cid = body["id"]
                channel = {"kind": "api#channel", "id": cid, "resourceId": uuid.uuid4().hex,
                           "resourceUri": f"{path[:-6]}?alt=json",
                           "expiration": str(int(time.time() * 1000) + self.channel_ttl_ms)}
                self.channels[cid] = {**channel, "address": body.get("address"), "calendar": unquote(m.group(1))}
                return 200, channel
            if m:
                cal, eid = unquote(m.group(1)), m.group(2) and unquote(m.group(2))
                events = self.events.setdefault(cal, {})
                if method == "POST" and eid is None:
                    eid = body.get("id") or uuid.uuid4().hex
                    if not ID_RULE.fullmatch(eid):
                        return _error(400, "invalid", "Invalid resource id value.")
                    if eid in events and events[eid].get("status") != "cancelled":
                        return _error(409, "duplicate", "The requested identifier already exists.")
                    return 200, self._public(self._store(cal, {**body, "id": eid}))
                if method == "PUT":
                    if eid not in events:
                        return _error(404, "notFound", "Not Found")
                    return 200, self._public(self._store(cal, {**body, "id": eid, "status": body.get("status", "confirmed")}))
                if method == "DELETE":
                    if eid not in events:
                        return _error(404, "notFound", "Not Found")
                    if events[eid].get("status") == "cancelled":
                        return _error(410, "deleted", "Resource has been deleted")
                    self._store(cal, {**events[eid], "status": "cancelled"})
                    return 204, None
                if method == "GET" and eid is None:
                    token = query.get("syncToken", [""])[0]
                    if token:
                        seen = int(token.removeprefix("v"))
                        if seen < self.min_valid_token:
                            return _error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
                        items = [e for e in events.values() if e["_v"] > seen]
                    else:
                        items = [e for e in events.values() if e.get("status") != "cancelled"]
                    return 200, {"kind": "calendar#events", "items": [self._public(e) for e in items],
                                 "nextSyncToken": f"v{self.version}"}
                if method == "GET":
                    if eid not in events:
                        return _error(404, "notFound", "Not Found")
                    return 200, self._public(events[eid])
            if path == "/calendar/v3/freeBusy" and method == "POST":
                out = {}
                for item in body.get("items", []):
                    busy = [{"start": e["start"]["dateTime"], "end": e["end"]["dateTime"]}
                            for e in self.live(item["id"]).values()
                            if e.get("transparency") != "transparent"
                            and e["end"]["dateTime"] > body["timeMin"] and e["start"]["dateTime"] < body["timeMax"]]
                    out[item["id"]] = {"busy": sorted(busy, key=lambda b: b["start"])}
                return 200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                             "calendars": out}
            if path == "/calendar/v3/channels/stop" and method == "POST":
                if body.get("id") not in self.channels:
                    return _error(404, "notFound", "Channel not found")
                del self.channels[body["id"]]
                return 204, None
        return _error(404, "notFound", f"no route {method} {path}")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                if self.headers.get("Authorization", "") != "Bearer fake-token":
                    code, payload = _error(401, "authError", "Invalid Credentials")
                else:
                    code, payload = fake.handle(method, url.path, parse_qs(url.query), body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def do_PUT(self):  # noqa: N802
                self._serve("PUT")

            def do_DELETE(self):  # noqa: N802
                self._serve("DELETE")

            def log_message(self, *args):
                pass

        return Handler
