// The session list (`sessions.list`): each trace's download link and its plot image.

import { $, el, fill } from "./dom.js";

// The plot is drawn by the server on first request: it is fetched only when opened.
function plot(session, src) {
  const box = el("details", { class: "plot-box" }, el("summary", {}, "Show the plot"));
  box.addEventListener("toggle", () => {
    if (!box.open || box.querySelector("img, p")) return;
    const img = el("img", { src, alt: `Plot of session ${session.id}`, class: "plot" });
    img.addEventListener("error", () => img.replaceWith(el("p", { class: "hint" },
      "No plot for this session.")));
    box.append(el("a", { href: src, target: "_blank" }, img));
  });
  return box;
}

// renderSessions(list, url): url(path) adds the token when the page has one.
export function renderSessions(list, url) {
  if (!list.length) {
    fill($("sessions"), [el("li", {}, "None yet.")]);
    return;
  }
  fill($("sessions"), list.map((s) => {
    const id = encodeURIComponent(s.id);
    const outcome = s.active ? "running" : (s.outcome || "ended");
    const item = el("li", { "data-id": s.id },
      el("p", { class: "session-title" }, `${s.title || s.program} · ${outcome}`),
      el("p", { class: "hint" }, `${s.id}${s.by ? ` · started from ${s.by}` : ""}`),
      el("a", { href: url(`sessions/${id}.jsonl`), download: `${s.id}.jsonl` },
        "Download the trace (JSON Lines)"));
    if (!s.active) item.append(plot(s, url(`sessions/${id}.png`)));
    return item;
  }));
}
