// Live state: the state in words, the step, progress and time left, the body outline with
// the roller and the airbag zones, heat, and the latched faults (snapshot: docs/api.md).

import { $, el, fill, clock } from "./dom.js";

const STATE_WORDS = {
  disconnected: "The chair is not connected",
  connecting: "Connecting to the chair",
  idle: "Ready",
  scanning: "Measuring your back (body scan)",
  running: "Massage running",
  paused: "Paused: the chair holds still, bags vented",
  parking: "Finishing: parking the roller, venting the bags",
  fault: "Stopped by a fault",
  estop: "EMERGENCY STOP: latched",
};

const OUTCOME_WORDS = {
  completed: "completed", stopped: "stopped", fault: "ended by a fault",
  link: "ended: the link to the chair failed",
};

// Colour for a share of the cap, 0..1: pale blue when empty to deep red at the cap.
function shade(share) {
  const r = Math.min(1, Math.max(0, share));
  return `hsl(${Math.round(215 - 215 * r)} 75% ${Math.round(88 - 40 * r)}%)`;
}

function meter(name, value, cap, unit, extra = "") {
  const share = cap > 0 ? value / cap : 0;
  const bar = el("span", { class: "meter-bar" });
  bar.style.width = `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
  bar.style.background = shade(share);
  return el("li", { "data-zone": name },
    el("span", { class: "meter-name" }, name),
    el("span", { class: "meter", "aria-hidden": "true" }, bar),
    el("span", { class: "meter-text" }, `${value.toFixed(1)} of ${cap.toFixed(0)} ${unit}${extra}`));
}

function drawRoller(roller) {
  const marker = $("roller");
  const label = $("roller-label");
  if (!roller || !(roller.track_mm > 0)) {
    marker.setAttribute("hidden", "");
    label.textContent = "";
    $("roller-text").textContent = "–";
    return "";
  }
  const track = $("track");
  const share = Math.min(1, Math.max(0, roller.mm / roller.track_mm));
  const point = track.getPointAtLength(track.getTotalLength() * share);
  marker.removeAttribute("hidden");
  marker.setAttribute("transform", `translate(${point.x.toFixed(1)} ${point.y.toFixed(1)})`);
  const onSeat = point.y > 210;   // under the seat: the name goes below, else to the left
  label.setAttribute("x", (onSeat ? point.x : point.x - 16).toFixed(1));
  label.setAttribute("y", (onSeat ? point.y + 30 : point.y + 5).toFixed(1));
  label.setAttribute("text-anchor", onSeat ? "middle" : "end");
  marker.dataset.mm = roller.mm.toFixed(1);
  marker.classList.toggle("moving", Boolean(roller.moving));
  const where = roller.landmark ? ` at ${roller.landmark}` : "";
  label.textContent = roller.landmark || "";
  const text = `${roller.mm.toFixed(0)} mm of ${roller.track_mm.toFixed(0)} mm on the track` +
    `${where}${roller.moving ? ", moving" : ""}`;
  $("roller-text").textContent = text;
  return `Roller ${text}.`;
}

function drawBags(airbags) {
  for (const bag of document.querySelectorAll(".bag")) bag.classList.add("absent");
  for (const { zone, kpa, cap_kpa: cap } of airbags) {
    const shape = $(`bag-${zone}`);
    if (!shape) continue;
    shape.classList.remove("absent");
    shape.style.fill = shade(cap > 0 ? kpa / cap : 0);
    shape.dataset.kpa = kpa.toFixed(2);
  }
  fill($("airbags"), airbags.map((b) => meter(b.zone, b.kpa, b.cap_kpa, "kPa")));
  return airbags.map((b) => `${b.zone} ${b.kpa.toFixed(1)} of ${b.cap_kpa} kPa`).join(", ");
}

function drawHeat(heat) {
  for (const pad of document.querySelectorAll(".heat")) pad.classList.add("absent");
  for (const { zone, c, cap_c: cap, on } of heat) {
    const pad = $(`heat-${zone}`);
    if (!pad) continue;
    pad.classList.remove("absent");
    pad.classList.toggle("on", Boolean(on));
    pad.style.fill = on ? shade(cap > 0 ? c / cap : 0) : "";
  }
  fill($("heat"), heat.map((h) => meter(h.zone, h.c, h.cap_c, "°C", h.on ? ", on" : ", off")));
}

function drawFaults(s) {
  const latched = s.state === "fault" || s.state === "estop";
  const box = $("faults");
  box.hidden = !latched && s.faults.length === 0;
  const items = s.faults.map((f) => el("li", { "data-code": f.code },
    el("strong", {}, `${f.code} ${f.name}: `), f.text,
    el("span", { class: "todo" }, `What to do: ${f.what_to_do}`)));
  if (items.length === 0 && latched) {
    items.push(el("li", {}, el("span", { class: "todo" },
      "What to do: make sure the person in the chair is safe and whatever caused the stop " +
      "has cleared, then press Reset.")));
  }
  fill($("fault-list"), items);
}

function drawSession(session, state) {
  const bar = $("bar");
  const progress = $("progress");
  if (!session) {
    bar.style.width = "0%";
    progress.setAttribute("aria-valuenow", "0");
    $("step").textContent = "No session yet.";
    $("left").textContent = "";
    return;
  }
  const share = session.program_s > 0 ? session.elapsed_s / session.program_s : 0;
  const pct = Math.round(Math.min(1, Math.max(0, share)) * 100);
  bar.style.width = `${pct}%`;
  progress.setAttribute("aria-valuenow", String(pct));
  progress.setAttribute("aria-valuetext", `${clock(session.elapsed_s)} of ${clock(session.program_s)}`);
  const step = session.step;
  $("step").textContent = session.active
    ? `${session.title}: ${step ? `step ${step.number} of ${step.of}, ${step.name}` : state}`
    : `${session.title}: ${OUTCOME_WORDS[session.outcome] || session.outcome || "ended"}`;
  $("left").textContent = session.active ? `${clock(session.left_s)} left` : "";
}

export function drawLive(s) {
  const state = $("state");
  state.textContent = STATE_WORDS[s.state] || s.state;
  state.dataset.state = s.state;
  document.body.dataset.state = s.state;
  $("reason").textContent = s.reason ? `(${s.reason})` : "";
  if (s.link && !s.link.ok) $("reason").textContent += " The link to the chair failed.";
  drawSession(s.session, s.state);
  const where = drawRoller(s.roller);
  const bags = drawBags(s.airbags || []);
  drawHeat(s.heat || []);
  drawFaults(s);
  $("body-desc").textContent = `${where} Airbags: ${bags || "none"}.`;
}

// The link dropped: the last snapshot is no longer the truth, and the page says so.
export function drawOffline(s) {
  const state = $("state");
  const last = s ? STATE_WORDS[s.state] || s.state : "nothing yet";
  state.textContent = `Not connected: the chair's state is unknown (last seen: ${last})`;
  state.dataset.state = "offline";
}
