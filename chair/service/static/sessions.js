// The session list (`sessions.list`): each trace's download link and its plot image.

import { $, el, fill } from "./dom.js";

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
    if (!s.active) {
      const img = el("img", { src: url(`sessions/${id}.png`), loading: "lazy",
        alt: `Plot of session ${s.id}`, class: "plot" });
      img.addEventListener("error", () => img.replaceWith(el("p", { class: "hint" },
        "No plot for this session.")));
      item.append(el("a", { href: url(`sessions/${id}.png`), target: "_blank" }, img));
    }
    return item;
  }));
}
