"""The codes a frontend switches on: ``data.code`` of every error reply, and of a refused
connection's ``connect_error``.

The code is the contract; the message beside it is for people and may be reworded. Each
constant's comment says when it is sent; the README's "Error codes" lists the same names,
with what a frontend should do (a unit test keeps the two in step).
"""
from __future__ import annotations

# -- error replies (an ack {status: "error", message, data: {code, ...}}) -------------------
INVALID_PAYLOAD = "invalid_payload"          # the event's payload is malformed or nested too deeply
UNKNOWN_EVENT = "unknown_event"              # the event is not one of the protocol's
OBSERVER = "observer"                        # an observer sent an event only the controller may send
UNKNOWN_OBJECT = "unknown_object"            # process names an object the project does not have
UNKNOWN_METHOD = "unknown_method"            # process names a method (or function) it does not have
BAD_ARGUMENTS = "bad_arguments"              # the arguments do not fit the method's signature
USER_EXCEPTION = "user_exception"            # the project's code raised (data.error: type, line, traceback)
LOAD_FAILED = "load_failed"                  # the project could not be imported (data.error)
NOT_JSON = "not_json"                        # the reply (a return value) cannot be sent as JSON
TIMEOUT = "timeout"                          # no answer within max_execution_time (+ the gateway's margin)
TOO_MANY_CALLS = "too_many_calls"            # executor.max_calls_in_flight calls run already; not run
EXECUTOR_UNAVAILABLE = "executor_unavailable"  # no executor came up within executor_start_timeout
EXECUTOR_RESTARTING = "executor_restarting"  # the executor is restarting; the request was not run
EXECUTOR_DIED = "executor_died"              # the executor exited during the call; its outcome is unknown
RESTART_TIMEOUT = "restart_timeout"          # done, but no new executor within executor_start_timeout
UPDATE_REJECTED = "update_rejected"          # the project (zip, size, requirements, disk) was not installed
UPLOAD_OUT_OF_ORDER = "upload_out_of_order"  # upload_chunk's offset is not data.received
NO_UPLOAD = "no_upload"                      # upload_chunk/upload_commit without a current upload_begin
UPLOAD_MISMATCH = "upload_mismatch"          # the uploaded bytes do not hash to the announced sha256
UNKNOWN_COMMAND = "unknown_command"          # an IPC command the receiver does not serve (local peers)
STOP_HOOKS_FAILED = "stop_hooks_failed"      # a stop() hook raised or hung (data.reports; IPC only)
INTERNAL_ERROR = "internal_error"            # a bug in robotctl: see the journal

REPLY_CODES = frozenset((
    INVALID_PAYLOAD, UNKNOWN_EVENT, OBSERVER, UNKNOWN_OBJECT, UNKNOWN_METHOD, BAD_ARGUMENTS,
    USER_EXCEPTION, LOAD_FAILED, NOT_JSON, TIMEOUT, TOO_MANY_CALLS, EXECUTOR_UNAVAILABLE,
    EXECUTOR_RESTARTING, EXECUTOR_DIED, RESTART_TIMEOUT, UPDATE_REJECTED, UPLOAD_OUT_OF_ORDER,
    NO_UPLOAD, UPLOAD_MISMATCH, UNKNOWN_COMMAND, STOP_HOOKS_FAILED, INTERNAL_ERROR,
))

# Codes only exchanged over the IPC (gateway, executor, robotctl-watch); no frontend sees them.
IPC_ONLY = frozenset((UNKNOWN_COMMAND, STOP_HOOKS_FAILED))

# -- refused connections (ConnectionRefusedError data: {code, ...}) -------------------------
UNAUTHORIZED = "unauthorized"                # a missing or wrong token (or too many wrong ones)
BUSY = "busy"                                # another client controls the robot (data.holder)
INVALID_ROLE = "invalid"                     # auth.role is neither controller nor observer
# INTERNAL_ERROR too: connecting failed after the client was admitted.

CONNECT_CODES = frozenset((UNAUTHORIZED, BUSY, INVALID_ROLE, INTERNAL_ERROR))

ALL_CODES = REPLY_CODES | CONNECT_CODES
