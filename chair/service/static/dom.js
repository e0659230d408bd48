// Small DOM helpers: every text from the server goes in as textContent, never as markup.

export const $ = (id) => document.getElementById(id);

// el("li", {class: "x"}, "text", child...) -> a new element.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replace the children of `node` with `children`.
export function fill(node, children) {
  node.replaceChildren(...children);
}

// "4:05" from seconds.
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Show an error object {code, message} (or a plain text) in a message line.
export function say(node, text, kind = "info") {
  node.textContent = text;
  node.dataset.kind = kind;
  node.dataset.at = String(performance.now());
}
