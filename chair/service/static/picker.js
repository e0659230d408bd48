// The program picker, the cautions to read, the user's conditions and the acknowledgement.
//
// renderPicker(list, onChange, preferred) draws `programs.list`'s result; choice() says
// what a start would send, or why it cannot: {ready, why, params}.

import { $, el, fill } from "./dom.js";

let programs = [];
let conditions = [];

function minutesOf(seconds) {
  return `about ${Math.max(1, Math.round(seconds / 60))} min`;
}

function programCard(program, checked) {
  const cautions = el("ul", { class: "cautions" },
    ...program.cautions.map((text) => el("li", {}, text)));
  const note = program.acknowledged
    ? el("span", { class: "hint" }, "Its cautions were acknowledged before on this chair.")
    : "";
  return el("label", { class: "program" },
    el("input", { type: "radio", name: "program", value: program.name, checked }),
    el("span", { class: "program-body" },
      el("span", { class: "program-title" }, program.title),
      el("span", { class: "program-meta" }, `${program.name} · ${minutesOf(program.seconds)}`),
      el("span", { class: "program-purpose" }, program.purpose),
      cautions, note));
}

function conditionBox(condition) {
  const detail = condition.refuse
    ? "DO NOT USE the chair with this."
    : `Lowers the caps: ${condition.changes}.`;
  return el("label", { class: condition.refuse ? "check refuse" : "check" },
    el("input", { type: "checkbox", name: "condition", value: condition.name }),
    el("span", {}, el("strong", {}, condition.name), `: ${condition.text} `,
      el("em", {}, detail)));
}

// `preferred`: the program to show chosen when none is yet (the last session's).
export function renderPicker(list, onChange, preferred) {
  const chosen = selected();
  programs = list.programs;
  conditions = list.conditions;
  const names = programs.map((p) => p.name);
  const first = chosen || (names.includes(preferred) ? preferred : names[0]);
  fill($("programs"), programs.map((p) => programCard(p, p.name === first)));
  fill($("flags-urgent"), list.red_flags.urgent.map((text) => el("li", {}, text)));
  fill($("flags-doctor"), list.red_flags.doctor.map((text) => el("li", {}, text)));
  const ticked = new Set(chosenConditions());
  fill($("conditions"), conditions.map(conditionBox));
  for (const box of $("conditions").querySelectorAll("input")) box.checked = ticked.has(box.value);
  fill($("always"), list.always.map((text) => el("li", {}, text)));
  fill($("guidance"), (list.guidance || []).map((text) => el("li", {}, text)));
  $("guidance-title").hidden = !(list.guidance || []).length;
  for (const input of $("choose").querySelectorAll("input[name=program]")) {
    input.addEventListener("change", () => {
      $("ack").checked = false;   // another program's cautions: read them and tick again
      onChange();
    });
  }
  for (const input of $("conditions").querySelectorAll("input")) {
    input.addEventListener("change", onChange);
  }
  onChange();
}

function selected() {
  const input = document.querySelector("input[name=program]:checked");
  return input ? input.value : null;
}

function chosenConditions() {
  return [...document.querySelectorAll("input[name=condition]:checked")].map((i) => i.value);
}

// Called once a start was accepted: the next start needs a fresh tick (every start is
// acknowledged by whoever presses it: docs/api.md, session.start).
export function started() {
  $("ack").checked = false;
}

export function choice() {
  const program = selected();
  const cautions = chosenConditions();
  const refusing = conditions.filter((c) => c.refuse && cautions.includes(c.name));
  const refusal = $("refusal");
  refusal.hidden = refusing.length === 0;
  refusal.textContent = refusing.length
    ? `Do not use the chair with ${refusing.map((c) => c.text).join("; ")}. Nothing will ` +
      "start: see a doctor or physiotherapist."
    : "";
  const minutes = Number($("minutes").value);
  const intensity = Number($("intensity").value);
  const params = { program, intensity, minutes, cautions, acknowledged: $("ack").checked };
  if ($("height").value !== "") params.height = Number($("height").value);
  if ($("firm-legs").checked) params.firm_legs = true;
  let why = "";
  if (!program) why = "Choose a program.";
  else if (refusing.length) why = "A condition you ticked means: do not use the chair.";
  else if (!$("ack").checked) why = "Read the cautions and tick the box above to start.";
  else if (!(minutes > 0 && minutes <= 30)) why = "The timer is 1 to 30 minutes.";
  return { ready: why === "", why, params };
}
