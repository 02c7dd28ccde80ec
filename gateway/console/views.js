/* robotctl web console: the image view and the plot view of pushed events.
 *
 * Image: an event whose data holds PNG or JPEG bytes (a Socket.IO binary attachment, an
 * ArrayBuffer here) is shown live. Each frame becomes a Blob and an object URL; the URL of
 * the frame it replaces is revoked once the new one is shown, so memory stays flat.
 * Plot: every numeric field of every event is offered as a chip; a click plots its values
 * over (up to) the last minute on a canvas. Nothing runs between events: drawing is scheduled by
 * an event, at most once per animation frame.
 */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const WINDOW_MS = 60000;             // plot history
  const MAX_FIELDS = 200;              // chips offered
  const MAX_DEPTH = 6;                 // how deep to look into an event's data
  const COLOURS = ['#4aa3ff', '#4cd37a', '#e0b040', '#ff5c5c', '#b07cff', '#2ec4c4', '#ff9f43', '#9aa4b0'];

  // -- finding images and numbers in an event's data ------------------------------------

  function bytesOf(value) {
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return null;
  }

  function imageType(b) {
    if (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
    if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
    return null;
  }

  /** The first PNG or JPEG inside ``value``: {path, bytes, type}, or null. */
  function findImage(value, path, depth) {
    const bytes = bytesOf(value);
    if (bytes) {
      const type = imageType(bytes);
      return type ? { path: path, bytes: bytes, type: type } : null;
    }
    if (depth >= MAX_DEPTH || !value || typeof value !== 'object') return null;
    for (const key of Object.keys(value)) {
      const found = findImage(value[key], path + '.' + key, depth + 1);
      if (found) return found;
    }
    return null;
  }

  /** [path, number] of every finite number inside ``value`` (booleans are not numbers). */
  function numbers(value, path, depth, out) {
    if (typeof value === 'number') {
      if (isFinite(value)) out.push([path, value]);
    } else if (value && typeof value === 'object' && depth < MAX_DEPTH && !bytesOf(value) &&
               !(Array.isArray(value) && value.length > 16)) {  // a long list is data, not fields
      for (const key of Object.keys(value)) numbers(value[key], path + '.' + key, depth + 1, out);
    }
    return out;
  }

  // -- the image view ---------------------------------------------------------------------

  const image = { source: null, shown: null, loading: null, frames: 0, times: [], meta: '' };

  function offerSource(event) {
    const select = $('image-source');
    if ([...select.options].some((o) => o.value === event)) return;
    select.add(new Option(event, event));
    if (!image.source) { image.source = event; select.value = event; }
  }

  function showImage(event, found, data) {
    const url = URL.createObjectURL(new Blob([found.bytes], { type: found.type }));
    if (image.loading) URL.revokeObjectURL(image.loading);  // newer than a frame not shown yet
    image.loading = url;
    const age = data && typeof data.time === 'number' ? Date.now() - data.time * 1000 : null;
    image.meta = event + found.path + ' · ' + found.type.slice(6).toUpperCase() + ' · ' +
      RC.fmtBytes(found.bytes.length) + (age !== null ? ' · age ' + Math.max(0, Math.round(age)) + ' ms' : '');
    $('image-view').src = url;
  }

  function imageLoaded() {
    const img = $('image-view');
    if (img.src !== image.loading) return;
    if (image.shown) URL.revokeObjectURL(image.shown);
    image.shown = image.loading;
    image.loading = null;
    image.frames += 1;
    const now = performance.now();
    image.times.push(now);
    while (image.times.length > 1 && now - image.times[0] > 2000) image.times.shift();
    const fps = image.times.length > 1 ? (image.times.length - 1) * 1000 / (now - image.times[0]) : 0;
    img.hidden = false;
    img.dataset.frames = String(image.frames);
    img.dataset.source = image.source;
    $('image-empty').hidden = true;
    $('image-caption').textContent = img.naturalWidth + '×' + img.naturalHeight + ' · ' + image.meta +
      ' · ' + fps.toFixed(1) + ' fps';
  }

  function imageFailed() {
    if (image.loading) URL.revokeObjectURL(image.loading);
    image.loading = null;
  }

  // -- the plot view ----------------------------------------------------------------------

  const fields = new Map();            // "event.path" -> {button, colour, points: [[ms, value]]}
  let drawPending = false;

  function offerField(name) {
    if (fields.has(name) || fields.size >= MAX_FIELDS) return fields.get(name);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'chip';
    button.textContent = name;
    button.dataset.field = name;
    button.setAttribute('aria-pressed', 'false');
    const field = { button: button, colour: null, points: [] };
    button.addEventListener('click', () => toggle(name));
    fields.set(name, field);
    $('plot-fields').appendChild(button);
    $('plot-empty').hidden = true;
    return field;
  }

  function toggle(name) {
    const field = fields.get(name);
    if (field.colour) {
      field.colour = null;
      field.points = [];
      field.button.style.borderColor = '';
    } else {
      const used = new Set([...fields.values()].map((f) => f.colour));
      field.colour = COLOURS.find((c) => !used.has(c)) || COLOURS[fields.size % COLOURS.length];
      field.button.style.borderColor = field.colour;
    }
    field.button.setAttribute('aria-pressed', String(!!field.colour));
    scheduleDraw();
  }

  function record(event, data) {
    const now = Date.now();
    numbers(data, event, 0, []).forEach(([name, value]) => {
      const field = offerField(name);
      if (!field || !field.colour) return;
      field.points.push([now, value]);
      while (field.points.length && now - field.points[0][0] > WINDOW_MS) field.points.shift();
      scheduleDraw();
    });
  }

  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  }

  function draw() {
    const canvas = $('plot');
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 220;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const style = getComputedStyle(document.body);
    ctx.clearRect(0, 0, width, height);
    const plotted = [...fields.entries()].filter(([, f]) => f.colour && f.points.length);
    const now = Date.now();
    // The time axis grows with the data, from 10 s up to the whole window.
    const oldest = Math.min(now, ...plotted.map(([, f]) => f.points[0][0]));
    const span = Math.max(10000, Math.min(WINDOW_MS, now - oldest));
    const left = plotted.length === 1 ? 60 : 8, right = width - 8, top = 8, bottom = height - 20;
    const x = (t) => left + (right - left) * (1 - (now - t) / span);
    const fmt = (v) => Number(v.toPrecision(5)).toString();
    ctx.strokeStyle = style.getPropertyValue('--line') || '#888';
    ctx.fillStyle = style.getPropertyValue('--muted') || '#888';
    ctx.font = '11px ui-monospace, monospace';
    ctx.lineWidth = 1;
    ctx.strokeRect(left, top, right - left, bottom - top);
    ctx.fillText('−' + Math.round(span / 1000) + ' s', left, height - 5);
    ctx.fillText('now', right - 22, height - 5);
    let points = 0;
    // Each field has its own vertical scale (a position and a battery level share no unit);
    // the legend gives its range, and a single field gets a labelled axis.
    plotted.forEach(([name, f], i) => {
      let lo = Math.min(...f.points.map((p) => p[1]));
      let hi = Math.max(...f.points.map((p) => p[1]));
      const latest = f.points[f.points.length - 1][1];
      if (lo === hi) { lo -= 1; hi += 1; }
      const y = (v) => bottom - (bottom - top) * (v - lo) / (hi - lo);
      if (plotted.length === 1) [hi, (hi + lo) / 2, lo].forEach((v) => ctx.fillText(fmt(v), 2, y(v) + 4));
      ctx.strokeStyle = f.colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      f.points.forEach(([t, v], j) => (j ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
      ctx.stroke();
      points += f.points.length;
      ctx.fillStyle = f.colour;
      ctx.fillText(name + ' = ' + fmt(latest) + '   (' + fmt(lo) + ' … ' + fmt(hi) + ')', left + 6, top + 14 + 13 * i);
    });
    canvas.dataset.points = String(points);
    canvas.dataset.series = String(plotted.length);
  }

  // -- wiring -----------------------------------------------------------------------------

  RC.on('event', ({ event, data }) => {
    const found = findImage(data, '', 0);
    if (found) {
      offerSource(event);
      if (event === image.source) showImage(event, found, data);
    }
    record(event, data);
  });

  $('image-view').addEventListener('load', imageLoaded);
  $('image-view').addEventListener('error', imageFailed);
  $('image-source').addEventListener('change', (e) => { image.source = e.target.value; });
  window.addEventListener('resize', scheduleDraw);
  scheduleDraw();
})();
