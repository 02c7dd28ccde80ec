/* Project upload: upload_begin -> upload_chunk (base64, chunk_size bytes each) -> upload_commit,
 * then start. The progress bar shows the bytes the robot has acknowledged; after a dropped
 * connection the upload resumes from the robot's offset.
 */
'use strict';
(function () {
  const RC = window.RC;
  const $ = (id) => document.getElementById(id);
  const CHUNK_TIMEOUT = 60000;
  const COMMIT_TIMEOUT = 180000;        // installs the project and restarts the executor
  const START_TIMEOUT = 330000;         // imports the project (max_execution_time is 300 s)
  const MAX_RETRIES = 5;
  let busy = false;

  function base64(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function status(message, kind) {
    const el = $('upload-status');
    el.textContent = message;
    el.dataset.kind = kind || 'info';
  }

  function progress(done, size) {
    const percent = size ? Math.floor((done / size) * 100) : 0;
    $('upload-progress').value = percent;
    $('upload-progress').setAttribute('aria-valuetext', percent + '%');
    status('Uploaded ' + RC.fmtBytes(done) + ' of ' + RC.fmtBytes(size) + ' (' + percent + '%)');
  }

  function check(ack, what) {
    if (ack.status !== 'success') throw new Error(what + ': ' + RC.errorText(ack));
    return ack.data;
  }

  async function begin(file, size, sha256) {
    const data = check(await RC.call('upload_begin', { size: size, sha256: sha256, name: file.name }),
      'upload_begin');
    return { offset: data.offset || 0, chunk: data.chunk_size || 1048576 };
  }

  /** Upload ``file`` (a File) chunk by chunk; resolve with upload_commit's project info. */
  async function upload(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const size = bytes.length;
    if (!size) throw new Error('the file is empty');
    status('Computing the SHA-256 of ' + file.name + '…');
    const sha256 = await window.RCHash.sha256hex(bytes);
    let state = await begin(file, size, sha256);
    if (state.offset > 0) RC.addRow('system', 'upload', 'resuming ' + file.name + ' at ' + RC.fmtBytes(state.offset));
    progress(state.offset, size);
    let failures = 0;
    while (state.offset < size) {
      const end = Math.min(size, state.offset + state.chunk);
      let ack;
      try {
        ack = await RC.call('upload_chunk', { offset: state.offset, data: base64(bytes.subarray(state.offset, end)) },
          CHUNK_TIMEOUT);
      } catch (e) {
        // The link dropped or stalled: wait for the reconnect, then ask where to resume.
        if (++failures > MAX_RETRIES) throw e;
        status('Connection lost at ' + RC.fmtBytes(state.offset) + '; waiting to resume…');
        await RC.waitConnected(120000);
        if (!RC.isController()) throw new Error('control was lost during the upload');
        state = await begin(file, size, sha256);
        progress(state.offset, size);
        continue;
      }
      if (ack.status !== 'success') {
        const code = RC.errorCode(ack);
        const resumable = code === 'upload_out_of_order' || code === 'no_upload';
        if (!resumable || ++failures > MAX_RETRIES) throw new Error('upload_chunk: ' + RC.errorText(ack));
        // The robot says where it is (data.received), or holds no upload (the gateway
        // restarted, or another upload replaced it): continue from there, or begin again.
        if (code === 'upload_out_of_order') state.offset = ack.data.received;
        else state = await begin(file, size, sha256);
        progress(state.offset, size);
        continue;
      }
      failures = 0;
      state.offset = ack.data.received;
      progress(state.offset, size);
    }
    status('Uploaded ' + RC.fmtBytes(size) + ' (100%). Verifying and installing; the executor restarts…');
    return check(await RC.call('upload_commit', {}, COMMIT_TIMEOUT), 'upload_commit');
  }

  async function start() {
    status('Starting the project (importing main.py)…');
    const ack = await RC.call('start', {}, START_TIMEOUT);
    if (ack.data) RC.setProject(ack.data);
    const missing = ack.data && ack.data.missing_requirements;
    const note = missing && missing.length ? ' Missing requirements: ' + missing.join(', ') + '.' : '';
    status((ack.status === 'success' ? 'Started: ' + ack.message : 'Start failed: ' + RC.errorText(ack)) + '.' + note,
      ack.status === 'success' ? 'success' : 'error');
    RC.refreshDescribe && RC.refreshDescribe();
    return ack;
  }

  async function run(action) {
    if (busy) return;
    busy = true;
    result = true;
    renderButtons();
    try {
      await action();
    } catch (e) {
      status('Failed: ' + e.message, 'error');
    } finally {
      busy = false;
      renderButtons();
    }
  }

  let result = false;                   // a result is on show: keep it until the next action

  function renderButtons() {
    const controller = RC.isController();
    const file = $('upload-file').files[0];
    $('upload-button').disabled = busy || !controller || !file;
    $('start-button').disabled = busy || !controller;
    if (busy || result) return;
    status(!controller ? 'Uploading and starting need control of the robot.'
      : file ? 'Ready to upload ' + file.name + ' (' + RC.fmtBytes(file.size) + ').'
        : 'Choose a .zip with a main.py at its top (or in one folder) to replace the running project.');
  }

  $('upload-file').addEventListener('change', () => {
    $('upload-progress').value = 0;
    result = false;
    renderButtons();
  });
  $('upload-button').addEventListener('click', () => run(async () => {
    const file = $('upload-file').files[0];
    const info = await upload(file);
    RC.setProject(info);
    status('Installed ' + (info && info.name ? info.name : file.name) + '.', 'success');
    if ($('upload-autostart').checked) await start();
    else RC.refreshDescribe && RC.refreshDescribe();
  }));
  $('start-button').addEventListener('click', () => run(start));
  RC.on('role', renderButtons);
  RC.upload = upload;
})();
