/* The project's API (describe tree with a call form per method) and the drive panel
 * (sport_client commands and the Move pad). Starts the console at the end.
 */
'use strict';
(function () {
  const RC = window.RC;
  const $ = (id) => document.getElementById(id);
  const CALL_TIMEOUT = 330000;          // the executor's max_execution_time is 300 s
  const DRIVE_OBJECT = 'sport_client';
  const MOVE_PERIOD_MS = 100;           // Move at 10 Hz while a pad button is held
  const MOVE_MAX_INFLIGHT = 3;          // skip a tick rather than queue on a slow link
  let described = null;                 // the last describe data

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  // -- arguments -----------------------------------------------------------------------------

  /** A field's value: JSON when it parses ("1.5", "true", "[1]", "\"42\""), else the text. */
  function parseValue(raw) {
    try { return JSON.parse(raw); } catch (e) { return raw; }
  }

  function kindOf(p) {
    const k = String(p.kind || '').toUpperCase().replace(/[\s-]+/g, '_');
    if (k.indexOf('VAR_POSITIONAL') >= 0 || k === 'VARIADIC_POSITIONAL') return 'varargs';
    if (k.indexOf('VAR_KEYWORD') >= 0 || k === 'VARIADIC_KEYWORD') return 'varkw';
    if (k.indexOf('POSITIONAL_ONLY') >= 0) return 'posonly';
    if (k.indexOf('KEYWORD_ONLY') >= 0) return 'kwonly';
    return 'normal';
  }

  /** The process args (dict of kwargs, list of positionals, or null) from the form's fields. */
  function buildArgs(params, values) {
    const kinds = params.map(kindOf);
    const given = params.map((p) => values[p.name] !== undefined && values[p.name] !== '');
    const positional = kinds.some((k, i) => (k === 'posonly' || k === 'varargs') && given[i]);
    if (!positional) {
      let kwargs = {};
      params.forEach((p, i) => {
        if (!given[i]) return;
        const v = parseValue(values[p.name]);
        if (kinds[i] === 'varkw') {
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('**' + p.name + ' takes a JSON object');
          kwargs = Object.assign(kwargs, v);
        } else {
          kwargs[p.name] = v;
        }
      });
      return Object.keys(kwargs).length ? kwargs : null;
    }
    // Positional call: the protocol sends a list or a dict, never both.
    const list = [];
    let gap = null;
    params.forEach((p, i) => {
      const k = kinds[i];
      if (k === 'kwonly' || k === 'varkw') {
        if (given[i]) throw new Error('with positional arguments, leave ' + p.name + ' empty (the protocol sends a list or a dict)');
        return;
      }
      if (!given[i]) { if (k !== 'varargs') gap = gap || p.name; return; }
      if (gap) throw new Error('fill ' + gap + ' too: positional arguments cannot skip one');
      const v = parseValue(values[p.name]);
      if (k === 'varargs') Array.prototype.push.apply(list, Array.isArray(v) ? v : [v]);
      else list.push(v);
    });
    return list;
  }

  // -- the describe tree ---------------------------------------------------------------------

  function methodBlock(objectName, m) {
    const params = m.parameters || [];
    const out = el('output', { 'aria-live': 'polite' });
    const fields = params.map((p) => {
      const kind = kindOf(p);
      const prefix = kind === 'varargs' ? '*' : kind === 'varkw' ? '**' : '';
      const input = el('input', { name: p.name, type: 'text', spellcheck: 'false', autocomplete: 'off' });
      input.placeholder = kind === 'varargs' ? 'JSON list' : kind === 'varkw' ? 'JSON object'
        : p.required ? 'required' : 'default ' + p.default;
      if (p.required && kind !== 'varargs' && kind !== 'varkw') input.required = true;
      const caption = prefix + p.name + (p.annotation ? ': ' + unquote(p.annotation) : '');
      return el('label', {}, [el('span', { text: caption }), input]);
    });
    const button = el('button', { type: 'submit', text: 'Call' });
    const form = el('form', { 'aria-label': 'Call ' + (objectName ? objectName + '.' : '') + m.name },
      fields.concat([button]));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const values = {};
      params.forEach((p) => { values[p.name] = form.elements[p.name].value.trim(); });
      let args;
      try { args = buildArgs(params, values); } catch (err) { show(out, 'error', err.message); return; }
      show(out, 'pending', 'calling…');
      button.disabled = true;
      RC.call('process', { params: { object: objectName, method: m.name, args: args } }, CALL_TIMEOUT)
        .then((ack) => show(out, ack.status, ack.status + ': ' + (ack.status === 'success' ? ack.message
          : RC.errorText(ack)) + '\n' + RC.json(ack.data, 2), RC.errorCode(ack)))
        .catch((err) => show(out, 'error', err.message))
        .then(() => { button.disabled = !RC.isController(); });
    });
    return el('div', { className: 'method', 'data-object': objectName || '', 'data-method': m.name }, [
      el('div', {}, [el('code', { text: m.name }), el('span', { className: 'sig mono', text: m.signature || '()' }),
        m.doc ? el('span', { className: 'hint', text: ' — ' + m.doc }) : null]),
      form, out]);
  }

  /** "'float'" (the repr of a postponed annotation) -> "float". */
  function unquote(text) {
    const m = /^(['"])(.*)\1$/.exec(String(text));
    return m ? m[2] : String(text);
  }

  function show(out, status, message, code) {
    out.dataset.status = status;
    if (code) out.dataset.code = code;
    else delete out.dataset.code;
    out.textContent = message;
  }

  function objectBlock(name, type, doc, methods) {
    const body = methods.length ? methods.map((m) => methodBlock(name, m))
      : [el('p', { className: 'hint', text: 'No public methods.' })];
    const attrs = { className: 'obj', 'data-object': name || '' };
    if (methods.length) attrs.open = '';      // objects without methods start folded
    return el('details', attrs, [
      el('summary', {}, [el('h3', { text: name || 'main.py functions' }),
        el('span', { className: 'hint', text: ' ' + (type || '') + (doc ? ' — ' + doc : '') })])].concat(body));
  }

  function renderDescribe(data) {
    const tree = $('describe-tree');
    tree.textContent = '';
    const objects = (data && data.objects) || [];
    const functions = (data && data.functions) || [];
    // Objects with methods first (the things to call), in the project's order.
    objects.slice().sort((a, b) => !(a.methods || []).length - !(b.methods || []).length)
      .forEach((o) => tree.appendChild(objectBlock(o.name, o.type, o.doc, o.methods || [])));
    if (functions.length) tree.appendChild(objectBlock(null, 'module', '', functions));
    const p = data && data.project;
    $('describe-status').textContent = objects.length || functions.length
      ? (p && p.name ? p.name + ': ' : '') + objects.length + ' objects, ' + functions.length + ' functions.'
      : p && p.loaded === false ? 'The project is not loaded yet: press Start under Project.'
        : 'The project has no public objects or functions.';
    renderControls();
  }

  let describeSeq = 0;
  RC.refreshDescribe = function () {
    const seq = ++describeSeq;
    $('describe-status').textContent = 'Loading the project\'s objects and methods…';
    return RC.call('describe', {}, 60000).then((ack) => {
      if (seq !== describeSeq) return;
      if (ack.status !== 'success') {
        described = null;
        $('describe-tree').textContent = '';
        $('describe-status').textContent = 'describe failed: ' + RC.errorText(ack);
        renderControls();
        return;
      }
      described = ack.data;
      if (ack.data && ack.data.project) RC.setProject(ack.data.project);   // e.g. loaded after a start
      renderDescribe(ack.data);
    }).catch((err) => {
      if (seq === describeSeq) $('describe-status').textContent = 'describe failed: ' + err.message;
    });
  };

  function renderControls() {
    const controller = RC.isController();
    document.querySelectorAll('#describe-tree button').forEach((b) => { b.disabled = !controller; });
    const hasDrive = !described || (described.objects || []).some((o) => o.name === DRIVE_OBJECT);
    $('drive-controls').disabled = !controller || !hasDrive;
    $('drive-hint').textContent = !hasDrive
      ? 'The loaded project has no sport_client object: these commands drive the bundled default project.'
      : controller ? 'Commands of the default project\'s sport_client.'
        : 'Watching only: driving needs control of the robot.';
  }

  // -- drive ---------------------------------------------------------------------------------

  function driveStatus(text, kind) {
    $('drive-status').textContent = text;
    $('drive-status').dataset.kind = kind || 'info';
  }

  function command(method, args, timeout) {
    return RC.call('process', { params: { object: DRIVE_OBJECT, method: method, args: args || null } }, timeout || 10000);
  }

  document.querySelectorAll('[data-command]').forEach((button) => {
    button.addEventListener('click', () => {
      const method = button.dataset.command;
      driveStatus(method + '…');
      command(method).then((ack) => driveStatus(method + ': ' + (ack.status === 'success'
        ? RC.json(ack.data) : RC.errorText(ack)), ack.status))
        .catch((err) => driveStatus(method + ': ' + err.message, 'error'));
    });
  });

  let moveTimer = null;
  let moveButton = null;
  let inflight = 0;
  let sent = 0;

  function startMove(button) {
    if (moveTimer || !RC.isController()) return;
    const factors = button.dataset.move.split(',').map(Number);
    const speed = Number($('speed').value) || 0;
    const turn = Number($('turn').value) || 0;
    const args = { vx: factors[0] * speed, vy: factors[1] * speed, vyaw: factors[2] * turn };
    moveButton = button;
    button.classList.add('held');
    sent = 0;
    const tick = () => {
      if (inflight >= MOVE_MAX_INFLIGHT) return;
      inflight += 1;
      sent += 1;
      command('Move', args, 2000).then((ack) => {
        if (ack.status !== 'success') { driveStatus('Move: ' + RC.errorText(ack), 'error'); stopMove(false); }
        else if (moveTimer) driveStatus('Moving (' + sent + ' Move commands): ' + RC.json(ack.data.velocity || ack.data));
      }).catch((err) => driveStatus('Move: ' + err.message, 'error'))
        .then(() => { inflight -= 1; });
    };
    tick();
    moveTimer = setInterval(tick, MOVE_PERIOD_MS);
  }

  function stopMove(sendStop) {
    if (!moveTimer) return;
    clearInterval(moveTimer);
    moveTimer = null;
    if (moveButton) moveButton.classList.remove('held');
    moveButton = null;
    if (sendStop !== false && RC.isController()) {
      command('StopMove').then((ack) => driveStatus('Stopped: ' + (ack.status === 'success' ? RC.json(ack.data) : RC.errorText(ack)),
        ack.status)).catch((err) => driveStatus('StopMove: ' + err.message, 'error'));
    }
  }

  document.querySelectorAll('[data-move]').forEach((button) => {
    button.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      button.setPointerCapture(e.pointerId);
      startMove(button);
    });
    ['pointerup', 'pointercancel', 'lostpointercapture'].forEach((t) => button.addEventListener(t, () => stopMove()));
    button.addEventListener('keydown', (e) => {
      if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); startMove(button); }
    });
    button.addEventListener('keyup', (e) => { if (e.key === ' ' || e.key === 'Enter') stopMove(); });
    button.addEventListener('blur', () => stopMove());
    button.addEventListener('contextmenu', (e) => e.preventDefault());
  });
  window.addEventListener('blur', () => stopMove());
  document.addEventListener('visibilitychange', () => { if (document.hidden) stopMove(); });

  // -- wiring --------------------------------------------------------------------------------

  $('describe-refresh').addEventListener('click', () => RC.refreshDescribe());
  RC.on('connect', () => RC.refreshDescribe());
  let instance = null;
  let loaded = null;
  RC.on('info', (info) => {
    // A new executor (upload, crash, restart) may carry another project, and a project that
    // just loaded has objects to show (an observer's describe never loads it): describe again.
    const nowLoaded = !!(info.project && info.project.loaded);
    if (instance !== null && (info.executor_instance !== instance || (nowLoaded && loaded === false))) {
      RC.refreshDescribe();
    }
    instance = info.executor_instance;
    loaded = nowLoaded;
  });
  RC.on('role', (controller) => { if (!controller) stopMove(false); renderControls(); });
  RC.buildArgs = buildArgs;             // for the browser tests
  RC.start();
})();
