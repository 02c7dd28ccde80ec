// Binary payloads with the official socket.io-client in node (Buffer on this side): a binary
// update, nested binary pushes, a binary process return and binary process args. Every check
// throws; the exit status is the verdict.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.CONSOLE_DIR + "/package.json");
const { io } = require("socket.io-client");
const FRAME = 100 * 1000;

function check(reply, what) {
  if (reply.status !== "success") throw new Error(`${what}: ${JSON.stringify(reply)}`);
  return reply.data;
}
function assert(condition, what) {
  if (!condition) throw new Error(what);
}
// binarybot's pattern(size, seed): every byte value, shifted by seed.
function pattern(size, seed = 0) {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i + seed) % 256;
  return out;
}
const call = (socket, method, args) =>
  socket.emitWithAck("process", { params: { object: "camera", method, args } });

const socket = io(process.env.ROBOT_URL, { transports: ["websocket"], reconnection: false });
await new Promise((resolve, reject) => { socket.on("connect", resolve); socket.on("connect_error", reject); });

// update with the zip as binary: what a browser sends with `await file.arrayBuffer()`.
const zip = readFileSync(process.env.ZIP_PATH);
const buffer = zip.buffer.slice(zip.byteOffset, zip.byteOffset + zip.length);
check(await socket.emitWithAck("update", { data: buffer }), "binary update");
check(await socket.emitWithAck("start", {}), "start");

const frames = [];
const gotFrames = new Promise((resolve) => socket.on("frame", (f) => {
  frames.push(f);
  if (frames.length === 2) resolve();
}));
check(await call(socket, "push_nested", [FRAME, 2]), "push_nested");
await gotFrames;
for (const frame of frames) {
  assert(Buffer.isBuffer(frame.jpeg), "frame.jpeg is not a Buffer: " + typeof frame.jpeg);
  assert(frame.jpeg.equals(pattern(FRAME, frame.seq)), "frame.jpeg bytes differ, seq " + frame.seq);
  assert(frame.tiles.every(Buffer.isBuffer), "tiles are not Buffers");
  assert(frame.tiles.map((t) => t.toString()).join(",") === "a,bc,def", "tiles differ");
}

const raw = new Promise((resolve) => socket.on("raw", resolve));
check(await call(socket, "push_bytes", [4096]), "push_bytes");
const rawFrame = await raw;
assert(Buffer.isBuffer(rawFrame) && rawFrame.equals(pattern(4096)), "raw push differs");

const snapshot = check(await call(socket, "snapshot", [FRAME]), "snapshot");
assert(Buffer.isBuffer(snapshot.png) && snapshot.png.equals(pattern(FRAME)), "snapshot.png differs");
const returned = check(await call(socket, "raw", [300]), "raw");
assert(Buffer.isBuffer(returned) && returned.equals(pattern(300)), "raw return differs");

// Binary args: a Buffer, an ArrayBuffer and a typed array all reach the method as bytes.
const blob = pattern(FRAME, 5);
const seen = check(await call(socket, "inspect", [blob, new Uint8Array([1, 2, 3]).buffer, 7]), "inspect");
assert(seen.args[0].type === "bytes" && seen.args[0].len === FRAME, "arg 0: " + JSON.stringify(seen));
assert(seen.args[1].type === "bytes" && seen.args[1].len === 3, "arg 1: " + JSON.stringify(seen));
assert(seen.args[2] === "int", "arg 2: " + JSON.stringify(seen));
const nested = check(await call(socket, "nested", [{ blobs: [Buffer.from([0, 255])], label: "x" }]), "nested");
assert(nested.kind === "bytes" && Buffer.isBuffer(nested.echo.blobs[0]) &&
       nested.echo.blobs[0].equals(Buffer.from([0, 255])), "nested: " + JSON.stringify(nested));
socket.disconnect();
console.log("binary client: ok");
