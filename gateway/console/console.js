/* robotctl web console: the connection, roles, server_info and the live panel.
 *
 * upload.js (chunked upload), project.js (describe forms, drive pad) and views.js (image and
 * plot views, fed by the "event" hook) build on the RC object defined here. The protocol is documented in the README ("Socket.IO protocol").
 */
'use strict';
(function () {
  const TOKEN_KEY = 'robotctl.token';
  const LIVE_MAX = 500;                 // rows kept in the live panel
  const $ = (id) => document.getElementById(id);

  const RC = window.RC = {
    socket: null,
    role: null,                         // the role the server gave us, when connected
    wanted: { role: 'controller', takeover: null },
    info: null,                         // the last robotctl:server_info
    project: null,                      // what we know of the loaded project
    holder: null,                       // {address, since} of the controller, when not us
    hooks: { connect: [], role: [], info: [], project: [], event: [] },
  };

  RC.on = (name, fn) => RC.hooks[name].push(fn);
  function fire(name, arg) {
    RC.hooks[name].forEach((fn) => { try { fn(arg); } catch (e) { console.error(e); } });
  }

  // -- small helpers -----------------------------------------------------------------------

  RC.fmtTime = function (value) {
    if (value === null || value === undefined || value === '') return '—';
    let date = null;
    if (typeof value === 'number') date = new Date(value > 1e12 ? value : value * 1000);
    else if (typeof value === 'string' && !isNaN(Date.parse(value))) date = new Date(value);
    return date ? date.toLocaleString() : String(value);
  };
  RC.fmtBytes = (n) => n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB'
    : (n / 1048576).toFixed(1) + ' MiB';
  // Binary values (Socket.IO attachments: ArrayBuffers) are shown by their size.
  const binaryAsSize = (key, value) => value instanceof ArrayBuffer || ArrayBuffer.isView(value)
    ? '<' + value.byteLength + ' bytes>' : value;
  RC.json = function (value, indent) {
    try { return JSON.stringify(value, binaryAsSize, indent); } catch (e) { return String(value); }
  };
  RC.freshId = function () {
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, (b) => ('0' + b.toString(16)).slice(-2)).join('');
  };
  RC.holderText = (h) => h ? (h.address || 'another client') + (h.since ? ' since ' + RC.fmtTime(h.since) : '')
    : 'another client';

  /** The ``data.code`` of an error reply (README "Error codes"), or null for a success. */
  RC.errorCode = (ack) => (ack && ack.status === 'error' && ack.data && typeof ack.data.code === 'string'
    ? ack.data.code : null);
  // What a person can do about an error, by its code; other codes need only the message.
  const ERROR_HINTS = {
    observer: 'Only the controller may do this: use "Take over control"',
    executor_restarting: 'The executor is restarting and this was not run: try again once it is back',
    executor_died: 'The call may have done part of its work: check the robot before repeating it',
    timeout: 'It may still be running on the robot: check its state before repeating it',
    too_many_calls: 'Too many calls are running on the robot: try again shortly',
  };
  /** An error reply's message, and what to do about it when its code says. */
  RC.errorText = (ack) => ack.message + (ERROR_HINTS[RC.errorCode(ack)] ? '. ' + ERROR_HINTS[RC.errorCode(ack)] : '');

  /** Emit ``event`` and resolve with its ack ({status, message, data}). */
  RC.call = function (event, payload, timeoutMs) {
    const ms = timeoutMs || 30000;
    return new Promise((resolve, reject) => {
      if (!RC.socket || !RC.socket.connected) {
        reject(new Error('not connected to the robot'));
        return;
      }
      RC.socket.timeout(ms).emit(event, payload || {}, (err, ack) => {
        if (err) reject(new Error('no reply to ' + event + ' within ' + ms / 1000 + ' s'));
        else if (!ack || typeof ack !== 'object') reject(new Error('malformed reply to ' + event));
        else resolve(ack);
      });
    });
  };

  /** Resolve once connected (at once if already), or reject after ``timeoutMs``. */
  RC.waitConnected = function (timeoutMs) {
    if (RC.socket && RC.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error('not reconnected in time')); }, timeoutMs);
      const done = () => { off(); resolve(); };
      const off = () => { clearTimeout(timer); RC.socket.off('connect', done); };
      RC.socket.on('connect', done);
    });
  };

  RC.isController = () => !!(RC.socket && RC.socket.connected && RC.role === 'controller');

  // -- connection state and banner ---------------------------------------------------------

  function setState(state, text) {
    const badge = $('conn-state');
    badge.dataset.state = state;
    badge.textContent = text;
  }

  function banner(text, kind) {
    const el = $('banner');
    el.hidden = !text;
    el.textContent = text || '';
    el.dataset.kind = kind || 'info';
  }
  RC.banner = banner;

  function renderRole() {
    const connected = RC.socket && RC.socket.connected;
    const controller = RC.isController();
    $('role').textContent = !connected ? 'not connected'
      : controller ? 'controller (you drive the robot)' : 'observer (watching only)';
    $('role-toggle').textContent = RC.wanted.role === 'controller' ? 'Watch only (observer)' : 'Request control';
    $('takeover').hidden = controller;
    const holder = $('holder-line');
    holder.hidden = !(connected && !controller);
    holder.textContent = 'Held by ' + RC.holderText(RC.holder) + '.';
    document.body.dataset.role = connected ? RC.role : 'none';
    if (connected) {
      setState(controller ? 'controller' : 'observer',
        controller ? 'Connected · controller' : 'Connected · observer');
    }
    document.querySelectorAll('fieldset.control').forEach((f) => { f.disabled = !controller; });
    fire('role', controller);
  }
  RC.renderRole = renderRole;

  // -- server_info ---------------------------------------------------------------------------

  function text(id, value) { $(id).textContent = value === undefined || value === null || value === '' ? '—' : String(value); }

  function renderInfo() {
    const info = RC.info;
    $('info-empty').hidden = !!info;
    $('info').hidden = !info;
    if (!info) return;
    text('info-version', info.version);
    text('info-instance', info.executor_instance);
    const r = info.last_restart;
    text('info-restart', r ? r.reason + (r.detail ? ' (' + r.detail + ')' : '') + ', ' + RC.fmtTime(r.time) : null);
    text('info-controller', info.controller ? RC.holderText(info.controller) + (RC.isController() ? ' (you)' : '') : 'nobody');
    renderProject();
  }

  function renderProject() {
    const p = RC.project;
    text('project-name', p ? p.name : 'no project loaded');
    text('project-sha', p && p.sha256 ? p.sha256 : null);
    $('project-sha').title = p && p.sha256 ? p.sha256 : '';
    text('project-origin', p ? (p.origin === 'default' ? 'default (bundled)' : p.origin) : null);
    text('project-loaded', p && 'loaded' in p ? (p.loaded ? 'yes' : 'no: press Start') : null);
  }

  /** Merge what an ack tells about the loaded project (name, sha256, origin, loaded). */
  RC.setProject = function (project) {
    if (!project || typeof project !== 'object') return;
    RC.project = Object.assign({}, RC.project || {}, project);
    renderProject();
    fire('project', RC.project);
  };

  function onServerInfo(info) {
    const previous = RC.info;
    RC.info = info;
    RC.project = info.project ? Object.assign({}, info.project) : null;
    if (info.role) RC.role = info.role;
    if (info.controller && info.role !== 'controller') RC.holder = info.controller;
    if (previous && previous.executor_instance !== info.executor_instance) {
      const r = info.last_restart || {};
      addRow('system', 'executor restarted', (r.reason || '?') + (r.detail ? ': ' + r.detail : ''));
    }
    renderInfo();
    renderRole();
    fire('info', info);
  }

  // -- the socket ----------------------------------------------------------------------------

  let sessionTaken = null;
  let retryTimer = null;

  function connect(role, takeover) {
    clearTimeout(retryTimer);
    RC.wanted = { role: role, takeover: takeover || null };
    if (RC.socket.connected || RC.socket.active) RC.socket.disconnect();
    setState('connecting', takeover ? 'Taking over…' : 'Connecting…');
    RC.socket.connect();
  }
  RC.connect = connect;

  function makeSocket() {
    const socket = window.io({
      autoConnect: false, reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 5000,
      auth: (cb) => {
        const auth = { role: RC.wanted.role };
        const token = localStorage.getItem(TOKEN_KEY);
        if (token) auth.token = token;
        if (RC.wanted.takeover) auth.takeover = RC.wanted.takeover;
        cb(auth);
      },
    });
    socket.on('connect', () => {
      RC.wanted.takeover = null;          // honoured once: never resent on a reconnect
      RC.role = RC.wanted.role;
      if (RC.role === 'controller') { RC.holder = null; banner(null); }
      renderRole();
      fire('connect');
    });
    socket.on('connect_error', (err) => {
      const code = err && err.data && err.data.code;
      if (code === 'busy') {
        RC.holder = err.data.holder || (err.data.data && err.data.data.holder) || null;
        if (RC.wanted.role === 'controller') {
          banner('Observer mode: ' + RC.holderText(RC.holder) + ' controls the robot. You can watch; ' +
                 'use "Take over control" to drive it yourself.');
          connect('observer');
        } else {
          setState('error', 'Refused');
          banner('The robot refused even an observer connection: ' + err.message + '. Retrying in 5 s.', 'error');
          retryTimer = setTimeout(() => connect('observer'), 5000);
        }
      } else if (code === 'unauthorized') {
        setState('error', 'Unauthorized');
        banner('The robot wants an access token: enter it under Connection and press Connect.', 'error');
        $('token').focus();
      } else if (code === 'internal_error') {
        // A refusal is never retried by socket.io-client itself; this one asks to try again.
        setState('error', 'Refused');
        banner('The robot failed while connecting: ' + err.message + '. Retrying in 5 s.', 'error');
        retryTimer = setTimeout(() => connect(RC.wanted.role), 5000);
      } else {
        setState('disconnected', 'Disconnected · retrying');
      }
      renderRole();
    });
    socket.on('disconnect', (reason) => {
      RC.role = null;
      renderRole();
      if (sessionTaken && sessionTaken.reason === 'token rotated') {
        sessionTaken = null;
        setState('disconnected', 'Disconnected');
        banner('The robot\'s access token was changed. Enter the new token to connect again.');
      } else if (sessionTaken) {
        const by = sessionTaken;
        sessionTaken = null;
        banner('Control was taken over by ' + (by.by || 'another client') + ' at ' + RC.fmtTime(by.time) +
               '. You are watching now.');
        RC.holder = { address: by.by, since: by.time };
        connect('observer');
      } else if (reason === 'io server disconnect' || reason === 'io client disconnect') {
        setState('disconnected', 'Disconnected');
      } else {
        setState('disconnected', 'Connection lost · reconnecting');
      }
    });
    socket.on('robotctl:server_info', onServerInfo);
    socket.on('robotctl:session_taken', (data) => { sessionTaken = data || {}; });
    socket.onAny((event, data) => {
      if (event === 'robotctl:server_info' || event === 'robotctl:session_taken') return;
      if (event === 'robotctl:log') {
        addRow(data && data.stream === 'stderr' ? 'stderr' : 'stdout', data ? data.stream : 'log',
               data ? String(data.text) : '', data && data.time);
      } else if (event.indexOf('robotctl:') === 0) {
        addRow('system', event.slice(9), RC.json(data));
      } else {
        addRow('event', event, RC.json(data));
        fire('event', { event: event, data: data });   // the image and plot views
      }
    });
    return socket;
  }

  // -- live panel ----------------------------------------------------------------------------

  let paused = false;
  let pending = [];
  let total = 0;

  function makeRow(kind, name, body, time) {
    const tr = document.createElement('tr');
    tr.dataset.kind = kind;
    tr.dataset.event = name;
    const when = time ? new Date(typeof time === 'number' ? (time > 1e12 ? time : time * 1000) : time) : new Date();
    [isNaN(when) ? new Date().toLocaleTimeString() : when.toLocaleTimeString(), kind, name,
     body.length > 2000 ? body.slice(0, 2000) + '…' : body].forEach((value) => {
      const td = document.createElement('td');
      td.textContent = value;
      tr.appendChild(td);
    });
    return tr;
  }

  function addRow(kind, name, body, time) {
    total += 1;
    const row = makeRow(kind, name, body, time);
    if (paused) {
      pending.push(row);
      if (pending.length > LIVE_MAX) pending.shift();
    } else {
      appendRows([row]);
    }
    renderCount();
  }
  RC.addRow = addRow;

  function appendRows(rows) {
    const body = $('live-rows');
    const wrap = body.closest('.live-wrap');
    const atBottom = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 30;
    rows.forEach((r) => body.appendChild(r));
    while (body.children.length > LIVE_MAX) body.removeChild(body.firstChild);
    if (atBottom) wrap.scrollTop = wrap.scrollHeight;
  }

  function renderCount() {
    const shown = $('live-rows').children.length;
    $('live-count').textContent = paused
      ? 'Paused: ' + pending.length + ' new rows waiting (the last ' + LIVE_MAX + ' are kept).'
      : shown ? shown + ' rows shown (of ' + total + ' received; the last ' + LIVE_MAX + ' are kept).'
        : 'Nothing yet: pushed events and the project\'s output appear here.';
  }

  // -- start-up ------------------------------------------------------------------------------

  RC.start = function () {
    if (!window.io) {
      setState('error', 'Socket.IO client missing');
      banner('console/vendor/socket.io.min.js did not load: build the console with `make console`.', 'error');
      return;
    }
    $('token').value = localStorage.getItem(TOKEN_KEY) || '';
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
      banner(null);
      connect(RC.wanted.role);
    });
    $('role-toggle').addEventListener('click', () => {
      banner(null);
      connect(RC.wanted.role === 'controller' ? 'observer' : 'controller');
    });
    $('takeover').addEventListener('click', () => {
      banner(null);
      connect('controller', RC.freshId());
    });
    $('live-pause').addEventListener('click', () => {
      paused = !paused;
      $('live-pause').setAttribute('aria-pressed', String(paused));
      $('live-pause').textContent = paused ? 'Resume' : 'Pause';
      if (!paused) { appendRows(pending); pending = []; }
      renderCount();
    });
    $('live-clear').addEventListener('click', () => {
      $('live-rows').textContent = '';
      pending = [];
      renderCount();
    });
    RC.socket = makeSocket();
    renderRole();
    renderInfo();
    connect('controller');
  };
})();
