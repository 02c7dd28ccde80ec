"""The gateway's side of the IPC: requests to the executor and what comes back.

Runs on eventlet: the command socket is a green ZeroMQ socket; the callback channel (every
reply and push) is read by the hub itself (hub_reader). Every request has an id and its own
answer callback (``request_async``; ``request`` waits on an event), so concurrent calls
never queue behind each other; its timeout is a hub timer, cancelled by the answer. Ids are
unique across gateway restarts (messages.new_id_source): a reply sent to the gateway before
this one is dropped (logged), never matched to a new call. The link learns which executor is
current from its Hello, and knows it is gone when its callback connection drops (socket
monitor): every call in flight to it then fails at once, instead of waiting for a timeout.
It counts the bytes it reads off the callback channel and tells the executor, in a Consumed
message, each time another quarter of ``executor.event_buffer_bytes`` has been read: the
executor's byte bound on what it sends (executor/send_credit.py).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

import eventlet
import eventlet.hubs
from eventlet.event import Event
from eventlet.green import zmq
import zmq as plain_zmq

from gateway.callbacks import EITHER, GREENLET, HUB, Callbacks
from gateway.hub_reader import HubReader
from shared import error_codes, messages, protocol, sockets

log = logging.getLogger(__name__)

# Send flags as plain ints: OR-ing pyzmq's enum flags costs microseconds per frame.
_LAST = int(plain_zmq.NOBLOCK)
_MORE = int(plain_zmq.NOBLOCK | plain_zmq.SNDMORE)

class ExecutorUnavailable(Exception):
    pass


OnReply = Callable[[Dict[str, Any]], None]


class _Pending:
    """A request waiting for its answer: to which executor it went, who gets the answer,
    and its timeout (a hub timer, cancelled by the answer)."""
    __slots__ = ("instance", "on_reply", "timer")

    def __init__(self, instance: str, on_reply: OnReply, timer: Optional[Any]):
        self.instance, self.on_reply, self.timer = instance, on_reply, timer


class ExecutorLink:
    def __init__(self, ipc: Any, start_timeout: float, event_buffer_bytes: int):
        self._context = zmq.Context()
        self.command = sockets.open_socket(self._context, "gateway.command", ipc)
        # The callback channel and its monitor are plain sockets read by the hub itself
        # (see hub_reader): every reply and push passes here.
        self._plain_context = plain_zmq.Context()
        self.callback = sockets.open_socket(self._plain_context, "gateway.callback", ipc)
        self._monitor = sockets.peer_events(self.callback)
        self._connected = 0
        self._start_timeout = start_timeout
        self._next_id = messages.new_id_source()
        self._boot = messages.id_boot(self._next_id())
        self._pending: Dict[str, _Pending] = {}
        self._hub = eventlet.hubs.get_hub()
        self.instance: Optional[bytes] = None
        self.hello: Optional[messages.Hello] = None     # what the current executor said
        self.project: Optional[Dict[str, Any]] = None   # its project, kept up to date
        self._arrived = Event()            # fired on each Hello of a new executor
        # Bytes read off the callback channel and not yet reported to the executor; reported
        # once they reach _report_at (a quarter of the bound), not per message.
        self._unreported = 0
        self._report_every = max(1, event_buffer_bytes // 4)
        self._report_at = self._report_every
        # Registered by the gateway's assembly (server.py); gateway.callbacks says what
        # HUB, EITHER and GREENLET mean for them.
        # (event, data, latest, size): size is the message's bytes on the IPC, for byte budgets.
        self.on_push = Callbacks("push", HUB)
        # (): a new executor said Hello, the current one left, or its project changed.
        self.on_executor_change = Callbacks("executor change", EITHER)
        # (peer, request): a local service (robotctl-watch) asks for a command.
        self.on_peer_request = Callbacks("peer request", GREENLET)

    def start(self) -> None:
        eventlet.spawn(self._read_commands)
        self._callbacks = HubReader(self.callback, self._handle_callback)
        HubReader(self._monitor, self._peer_event)

    # -- requests ---------------------------------------------------------------------

    def request(self, command: str, args: Dict[str, Any], blob: Optional[bytes] = None,
                timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send a command to the current executor and return its reply as an ack dict.

        Waits (up to executor_start_timeout) for an executor if none is connected. Never
        hangs on a dead executor: its death fails the request at once.
        """
        return self.request_to(command, args, blob, timeout)[1]

    def request_to(self, command: str, args: Dict[str, Any], blob: Optional[bytes] = None,
                   timeout: Optional[float] = None) -> Tuple[bytes, Dict[str, Any]]:
        """``request``, and the executor instance the request went to."""
        instance = self._current_executor()
        done = Event()
        request_id = self.request_async(command, args, done.send, timeout, blob)
        try:
            return instance, done.wait()
        finally:
            self._forget(request_id)      # answered, or this greenlet was killed

    def request_async(self, command: str, args: Dict[str, Any], on_reply: OnReply,
                      timeout: Optional[float] = None, blob: Optional[bytes] = None) -> str:
        """Send a command to the current executor; ``on_reply(ack)`` gets its one answer.
        Returns the request's id.

        The caller checks that an executor is connected (``instance``): this one does not
        wait for one (it waits only if the command queue is full, like any green send).
        ``on_reply`` is called exactly once: from the hub with the reply, or the ``timeout``
        or ``executor_died`` error; or at once, from here, with ``executor_restarting`` if the
        command cannot be sent. It must not block (it may run in the hub).
        """
        instance = self.instance
        if instance is None:
            raise ExecutorUnavailable("no executor is running")
        request_id = self._next_id()
        timer = None if timeout is None else self._hub.schedule_call_global(
            timeout, self._timed_out, request_id, timeout)
        self._pending[request_id] = _Pending(instance.decode(), on_reply, timer)
        request = messages.Request(request_id, command, args, instance.decode(), blob)
        try:
            self._send_command([instance] + request.to_frames())
        except zmq.ZMQError as e:
            pending = self._forget(request_id)
            self._lost(instance)           # fails the others sent to it, not this one
            self._deliver(request_id, pending, protocol.error(
                "the executor is not reachable (%s); it is being restarted" % e.strerror,
                code=error_codes.EXECUTOR_RESTARTING))
        except BaseException:
            self._forget(request_id)
            raise
        return request_id

    def _timed_out(self, request_id: str, timeout: float) -> None:
        self._answer(request_id, protocol.error("no reply from the executor within %g s"
                                                % timeout, code=error_codes.TIMEOUT))

    def _answer(self, request_id: str, ack: Dict[str, Any]) -> None:
        """Give a pending request its one answer; later ones are dropped."""
        self._deliver(request_id, self._forget(request_id), ack)

    @staticmethod
    def _deliver(request_id: str, pending: Optional[_Pending], ack: Dict[str, Any]) -> None:
        if pending is not None:
            try:
                pending.on_reply(ack)
            except Exception:     # may run in the hub: must not stop the reading
                log.exception("error handling the reply to request %s", request_id)

    def _forget(self, request_id: str) -> Optional[_Pending]:
        pending = self._pending.pop(request_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()
        return pending

    def _current_executor(self) -> bytes:
        if self.instance is None:
            with eventlet.Timeout(self._start_timeout, False):
                while self.instance is None:
                    self._arrived.wait()
        if self.instance is None:
            raise ExecutorUnavailable("no executor is running (waited %g s); check "
                                      "`journalctl -u robotctl-executor`" % self._start_timeout)
        return self.instance

    def wait_for_new_executor(self, old: bytes, timeout: float) -> bool:
        """Wait until an executor other than ``old`` has said Hello."""
        deadline = eventlet.Timeout(timeout, False)
        with deadline:
            while self.instance in (None, old):
                self._arrived.wait()
            return True
        return False

    def _send_command(self, frames: List[bytes]) -> None:
        """Send on the command socket without waking its reader for nothing.

        eventlet's green send wakes the greenlet blocked in recv after every send, which then
        finds nothing and blocks again: a timer, two greenlet switches and a failed receive per
        call. pyzmq's send_multipart sends each frame with ``self.send``, the green one, so
        the frames go out through the plain ``zmq.Socket.send``. A ROUTER takes a whole
        message or, with its high-water mark reached, none of it (Again on the first frame):
        then wait like any green send. The reader is woken only if the send processed an
        incoming message (what getsockopt(EVENTS) on a green socket does).
        """
        if not self._sent_now(frames):
            self.command.send_multipart(frames)      # queue full: wait like any green send
        self.command.getsockopt(zmq.EVENTS)

    def _sent_now(self, frames: List[bytes]) -> bool:
        """Send with the plain ``send``, never waiting; False if the queue is full."""
        send, last = plain_zmq.Socket.send, len(frames) - 1
        try:
            send(self.command, frames[0], _MORE if last else _LAST)
        except zmq.Again:
            return False
        for n in range(1, last + 1):
            send(self.command, frames[n], _MORE if n < last else _LAST)
        return True

    def reply_to_peer(self, peer: bytes, request_id: str, ack: Dict[str, Any]) -> None:
        reply = messages.Reply.of(request_id, ack)
        try:
            self._send_command([peer] + reply.to_frames())
        except zmq.ZMQError as e:
            log.warning("could not answer a local peer: %s", e.strerror)

    # -- what comes in ----------------------------------------------------------------------

    def _read_commands(self) -> None:
        while True:
            peer, *frames = self.command.recv_multipart()
            message = _decode(frames, "command")
            if isinstance(message, messages.Hello):
                self._hello(peer, message)
            elif isinstance(message, messages.Request):
                eventlet.spawn(self.on_peer_request.fire, peer, message)

    def _hello(self, peer: bytes, hello: messages.Hello) -> None:
        if peer == self.instance:
            return      # the same executor reconnecting after a gateway restart
        previous, self.instance, self.hello = self.instance, peer, hello
        self.project = dict(hello.project)
        # A new executor counts what it sends from zero: bytes read from the previous one
        # must not be reported to it as consumed.
        self._unreported, self._report_at = 0, self._report_every
        log.info("executor %s is up (pid %d)", hello.instance, hello.pid)
        if previous is not None:
            self._fail_pending(previous.decode(), "the executor restarted during the call")
        self._arrived.send()
        self._arrived = Event()
        self.on_executor_change.fire()

    def _handle_callback(self, frames: List[bytes]) -> None:
        size = messages.frames_size(frames)
        self._unreported += size
        if self._unreported >= self._report_at:
            self._report_consumed()
        message = _decode(frames, "callback", parse_push_data=False)
        if isinstance(message, messages.Push):
            self._push(message, size)
        elif isinstance(message, messages.Reply):
            self._reply(message)
        elif isinstance(message, messages.ProjectState):
            if self.project is not None:
                self.project = dict(message.project)
                self.on_executor_change.fire()

    def _push(self, push: messages.Push, size: int) -> None:
        """A project's push goes on with its data as the executor encoded it (an
        EncodedValue, see gateway/push_packets); the executor's own events are read here."""
        data = push.data
        if push.event.startswith(protocol.SYSTEM_PREFIX):
            try:
                data = data.value()
            except messages.MessageError as e:
                log.error("ignored a malformed push of %r: %s", push.event, e)
                return
        self.on_push.fire(push.event, data, push.latest, size)

    def _report_consumed(self) -> None:
        """Tell the executor what was read since the last report (runs in the hub: never
        waits). If it cannot go now, it goes with the next quarter."""
        if self.instance is not None:
            try:
                if self._sent_now([self.instance] + messages.Consumed(self._unreported).to_frames()):
                    self._unreported, self._report_at = 0, self._report_every
                    self.command.getsockopt(zmq.EVENTS)
                    return
            except zmq.ZMQError as e:     # the executor is gone (ROUTER_MANDATORY)
                log.debug("could not report consumed bytes: %s", e.strerror)
        self._report_at = self._unreported + self._report_every

    def _reply(self, reply: messages.Reply) -> None:
        if messages.id_boot(reply.id) != self._boot:
            log.warning("dropped a reply to request %s, sent before this gateway started", reply.id)
            return
        self._answer(reply.id, reply.as_ack())

    def _peer_event(self, frames: List[bytes]) -> None:
        event = sockets.peer_event_number(frames)
        if event == zmq.EVENT_ACCEPTED:
            self._connected += 1
            if self._connected > 1:    # an executor and its successor, for a moment
                log.info("%d connections on the callback channel", self._connected)
        elif event == zmq.EVENT_DISCONNECTED:
            self._connected = max(0, self._connected - 1)
            if self._connected:
                # Says why no "is gone" follows, should a peer stay counted that has left.
                log.info("a connection on the callback channel closed; %d remain",
                         self._connected)
            # With another executor already connected, the one that left is the old one,
            # whose calls its successor's Hello has failed already.
            if self._connected == 0 and self.instance is not None:
                # ZeroMQ queues a peer's messages before it reports the disconnection, so
                # a reply sent just before the executor exited is handled first.
                self._callbacks.drain_all()
                self._lost(self.instance)

    def _lost(self, instance: bytes) -> None:
        if self.instance == instance:
            log.warning("executor %s is gone; it will be restarted", instance.decode())
            self.instance = self.hello = self.project = None
            self.on_executor_change.fire()
        self._fail_pending(instance.decode(), "the executor exited during the call; "
                           "it is being restarted")

    def _fail_pending(self, instance: str, message: str) -> None:
        for request_id, pending in list(self._pending.items()):
            if pending.instance == instance:
                self._answer(request_id, protocol.error(message, code=error_codes.EXECUTOR_DIED))


def _decode(frames: List[bytes], channel: str,
            parse_push_data: bool = True) -> Optional[messages.Message]:
    """The message, or None (logged) if the frames are malformed."""
    try:
        return messages.decode(frames, parse_push_data)
    except messages.MessageError as e:
        log.error("ignored a malformed message on the %s socket: %s", channel, e)
        return None
