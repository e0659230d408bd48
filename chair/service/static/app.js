// The page of `chair serve`: wires the JSON-RPC link (rpc.js) to the program picker
// (picker.js), the live state (live.js), the session list (sessions.js) and the buttons.

import { $, say } from "./dom.js";
import { Rpc } from "./rpc.js";
import { choice, renderPicker, started } from "./picker.js";
import { drawLive, drawOffline } from "./live.js";
import { renderSessions } from "./sessions.js";

const token = new URLSearchParams(location.search).get("token");
const url = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
const socketUrl = new URL(url("websocket"), location.href);
socketUrl.protocol = socketUrl.protocol === "https:" ? "wss:" : "ws:";

let snapshot = null;
let lastSession = "";

const rpc = new Rpc(socketUrl.href, {
  onState(text, ok) {
    say($("link"), text, ok ? "ok" : "error");
    document.body.classList.toggle("offline", !ok);
    if (!ok) drawOffline(snapshot);
    updateButtons();
  },
  onNotify(method, params) {
    if (method === "status.update") update(params);
  },
  onOpen() {
    rpc.call("status.subscribe").catch(showError($("now-msg")));
    rpc.call("status.get").then(update).catch(showError($("now-msg")))
      .then(() => rpc.call("programs.list"))
      .then((list) => renderPicker(list, updateButtons, snapshot?.session?.program))
      .catch(showError($("start-msg")));
    refreshSessions();
  },
});

rpc.connect();

function refreshSessions() {
  rpc.call("sessions.list").then((list) => renderSessions(list, url)).catch(() => {});
}

function update(s) {
  if (snapshot && snapshot.state !== s.state) {
    // a success reported over a second ago is old news now; a refusal stays until the
    // next press
    for (const id of ["now-msg", "start-msg", "estop-msg"]) {
      const node = $(id);
      if (node.dataset.kind !== "error" && performance.now() - node.dataset.at > 1000) {
        say(node, "");
      }
    }
  }
  snapshot = s;
  drawLive(s);
  updateButtons();
  const key = s.session ? `${s.session.id}:${s.session.active}` : "";
  if (key !== lastSession) {
    lastSession = key;
    refreshSessions();
  }
}

function updateButtons() {
  const can = snapshot && rpc.open ? snapshot.can : {};
  for (const name of ["pause", "resume", "stop", "reset"]) $(name).disabled = !can[name];
  const ready = choice();
  $("start").disabled = !(can.start && ready.ready);
  $("start-hint").textContent = !rpc.open ? "Not connected to the chair."
    : !can.start && snapshot ? startBlocked(snapshot) : ready.why;
}

function startBlocked(s) {
  if (s.state === "fault" || s.state === "estop") return "Read what to do above, then reset.";
  if (s.session && s.session.active) return "Start again once this session has ended (or stop it).";
  return `The chair cannot start now (${s.state}).`;
}

// A refusal or error from the server, shown beside the button that asked.
function showError(node) {
  return (error) => say(node, error.code
    ? `Refused: ${error.message} (code ${error.code})` : `Not sent: ${error.message}`, "error");
}

function command(button, method, done) {
  $(button).addEventListener("click", () => {
    say($("now-msg"), "");
    rpc.call(method).then(() => say($("now-msg"), done, "ok")).catch(showError($("now-msg")));
  });
}

command("pause", "session.pause", "Paused.");
command("resume", "session.resume", "Resumed.");
command("stop", "session.stop", "Stopping: the chair parks.");
command("reset", "chair.reset", "Reset: the chair is ready.");

$("start").addEventListener("click", () => {
  const { params } = choice();
  say($("start-msg"), "");
  rpc.call("session.start", params).then(() => {
    started();
    say($("start-msg"), "Started.", "ok");
    if (window.matchMedia("(max-width: 899px)").matches) {
      $("now").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }).catch(showError($("start-msg")));
});

// The emergency stop: sent at once, no question asked.
$("estop").addEventListener("click", () => {
  say($("estop-msg"), "Emergency stop sent…", "info");
  rpc.call("chair.estop").then(
    () => say($("estop-msg"), "Emergency stop: the chair is stopped and latched.", "ok"),
    (error) => say($("estop-msg"), error.code
      ? `Emergency stop refused: ${error.message}`
      : `NOT CONFIRMED: ${error.message}. Use the chair's own stop button or switch the ` +
        "chair off.", "error"));
});

for (const id of ["ack", "minutes"]) $(id).addEventListener("input", updateButtons);
$("ack").addEventListener("change", updateButtons);
$("intensity").addEventListener("input", () => {
  $("intensity-out").textContent = $("intensity").value;
});
