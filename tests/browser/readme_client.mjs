// The README's quick start, run with the official socket.io-client (from the console's
// node_modules) in node: drive the simulated robot, receive a push, upload a project, start
// it and call it. Every check throws; the exit status is the verdict.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.CONSOLE_DIR + "/package.json");
const { io } = require("socket.io-client");

function check(reply, what) {
  if (reply.status !== "success") throw new Error(`${what}: ${JSON.stringify(reply)}`);
  return reply.data;
}

const auth = process.env.ROBOT_TOKEN ? { token: process.env.ROBOT_TOKEN } : {};
const socket = io(process.env.ROBOT_URL, { auth, transports: ["websocket"], reconnection: false });
const info = new Promise((resolve) => socket.on("robotctl:server_info", resolve));
const state = new Promise((resolve) => socket.on("robot_state", resolve));
await new Promise((resolve, reject) => { socket.on("connect", resolve); socket.on("connect_error", reject); });

const server = await info;
if (!server.executor_instance) throw new Error("server_info without an executor: " + JSON.stringify(server));

const posture = check(await socket.emitWithAck("process", {
  params: { object: "sport_client", method: "StandUp", args: {} } }), "StandUp");
if (posture.posture !== "standing") throw new Error("StandUp: " + JSON.stringify(posture));
check(await socket.emitWithAck("process", {
  params: { object: "sport_client", method: "Move", args: { vx: 0.3, vy: 0, vyaw: 0 } } }), "Move");
const pushed = await state;
if (!pushed.moving) throw new Error("robot_state: " + JSON.stringify(pushed));
check(await socket.emitWithAck("process", { params: { object: "sport_client", method: "StopMove" } }), "StopMove");

const zip = readFileSync(process.env.ZIP_PATH).toString("base64");
check(await socket.emitWithAck("update", { data: zip }), "update");
check(await socket.emitWithAck("start", {}), "start");
const sum = check(await socket.emitWithAck("process", { params: { object: "bot", method: "add", args: [2, 40] } }), "add");
if (sum !== 42) throw new Error("bot.add(2, 40) returned " + JSON.stringify(sum));
const refused = await socket.emitWithAck("process", { params: { object: "bot", method: "fail", args: { text: "no luck" } } });
if (refused.status !== "error" || !refused.message.startsWith("ValueError: no luck")
    || refused.data.code !== "user_exception") {
  throw new Error("bot.fail: " + JSON.stringify(refused));
}
socket.disconnect();
console.log("readme client: ok");
