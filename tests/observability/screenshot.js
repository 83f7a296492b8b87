// Screenshot of a page after it ran for a while in real time (Chromium's
// --screenshot takes it at load, and --virtual-time-budget runs the page's
// clock faster than the server's), through the DevTools protocol.
//   node --experimental-websocket screenshot.js CHROMIUM URL OUT.png SECONDS
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [chromium, url, out, seconds] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "recsys-shot-"));
const browser = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu",
  "--hide-scrollbars", "--window-size=1100,900", `--user-data-dir=${profile}`,
  "--remote-debugging-port=0", "about:blank"], { stdio: "ignore" });
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function main() {
  let port = null;
  for (let i = 0; i < 200 && port === null; i++) {
    try { port = fs.readFileSync(path.join(profile, "DevToolsActivePort"), "utf8").split("\n")[0]; }
    catch (e) { await sleep(50); }
  }
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find(t => t.type === "page");
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise(r => ws.addEventListener("open", r));
  let id = 0;
  const pending = new Map();
  ws.addEventListener("message", ev => {
    const msg = JSON.parse(ev.data);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg.result); pending.delete(msg.id); }
  });
  const send = (method, params = {}) => new Promise(r => {
    pending.set(++id, r);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await send("Page.enable");
  await send("Page.navigate", { url });
  await sleep(1000 * Number(seconds));
  const shot = await send("Page.captureScreenshot", { format: "png" });
  fs.writeFileSync(out, Buffer.from(shot.data, "base64"));
  ws.close();
}
// The profile is removed once the browser has exited (it writes there
// until then).
function finish(code) {
  browser.on("exit", () => {
    try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) {}
    process.exit(code);
  });
  browser.kill();
}
main().then(() => finish(0), e => { console.error(e); finish(1); });
