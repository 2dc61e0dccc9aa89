// The panels beside and under the graph: the step's text and formulas, the node inspector and the
// tape. Everything they show comes with the payload (the narration of every step, each node's
// looks, values and gradients); here it is only put on the page.

import { lookIndex } from "./graph.js";

const SVG_NS = "http://www.w3.org/2000/svg";

export function element(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") e.className = value;
    else if (key === "hook") e.dataset.hook = value;
    else if (key === "text") e.textContent = value;
    else e.setAttribute(key, value);
  }
  for (const child of children) if (child != null) e.append(child);
  return e;
}

// The narrator's tiny Markdown: **bold** and `code`, nothing else. Text nodes only: user names
// inside `code` can never become markup.
export function inlineMarkdown(text) {
  const out = document.createDocumentFragment();
  const pattern = /\*\*([^*]+)\*\*|`([^`]+)`/g;
  let last = 0, match;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) out.append(text.slice(last, match.index));
    out.append(match[1] !== undefined ? element("strong", { text: match[1] }) : element("code", { text: match[2] }));
    last = pattern.lastIndex;
  }
  if (last < text.length) out.append(text.slice(last));
  return out;
}

export function renderFormula(katex, tex, display = true) {
  const box = element("div", { class: "formula" });
  if (!katex) { box.append(element("code", { text: tex })); return box; }
  try {
    // Inline mode with \displaystyle: the same look, but a long sum wraps after an operator
    // instead of running off the panel.
    katex.render(display ? `\\displaystyle ${tex}` : tex, box,
      { displayMode: false, throwOnError: false, trust: false, strict: "ignore", output: "html" });
  } catch (error) {
    box.replaceChildren(element("code", { text: tex }));
  }
  return box;
}

// ---- this step ---------------------------------------------------------------------------------------

export function renderStep(container, step, katex, hooks) {
  const [title, sentence, formulas, , arrays, expansions] = step;
  const formulaBox = element("div", { class: "formulas", hook: hooks.formulas });
  for (const tex of formulas) formulaBox.append(renderFormula(katex, tex));
  // The arrays too big to write out in the formulas (boxed there with their shape and norm).
  const heatmaps = element("div", { class: "step-arrays" }, ...(arrays ?? []).map(([caption, h, gradient]) => heatmap(h, caption, gradient)));
  container.replaceChildren(
    element("p", { class: "sentence" }, inlineMarkdown(sentence)),
    formulaBox,
    heatmaps,
    ...(expansions ?? []).map((expansion) => renderExpansion(expansion, katex, hooks)),
  );
  container.dataset.title = title;
}

// A matrix product's contribution as a grid of its entries: clicking one writes it out as its sum
// of products, with the numbers (the narrator made every entry's formula; this only shows one).
function renderExpansion([caption, shape, values, entries], katex, hooks) {
  const [rows, cols] = shape.length === 2 ? shape : [1, shape[0] ?? 1];
  const shown = element("div", { class: "expansion-formula" });
  const grid = element("div", { class: "expansion-grid", style: `grid-template-columns: repeat(${cols}, auto)` });
  values.forEach((value, index) => {
    const cell = element("button", { type: "button", title: "write this entry out", text: value });
    cell.addEventListener("click", () => {
      grid.querySelectorAll("button").forEach((b) => b.classList.toggle("chosen", b === cell));
      shown.replaceChildren(renderFormula(katex, entries[index]));
    });
    grid.append(cell);
  });
  return element("figure", { class: "expansion", hook: hooks.expansion },
    element("figcaption", { text: `${caption} (${rows}×${cols}): click an entry to see its sum of products` }), grid, shown);
}

// ---- heatmaps ------------------------------------------------------------------------------------------
// Values on a sequential scale, gradients on a diverging one centred at 0 (orange positive, purple
// negative: PuOr, readable with the common colour-vision deficiencies).

const SEQUENTIAL = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
const DIVERGING = ["#2d004b", "#8073ac", "#f7f7f7", "#e08214", "#7f3b08"];

function mix(stops, f) {
  const x = Math.min(Math.max(f, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2);
  const a = stops[i], b = stops[i + 1], u = x - i;
  const channel = (k) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - u) + parseInt(b.slice(k, k + 2), 16) * u);
  return `rgb(${channel(1)},${channel(3)},${channel(5)})`;
}

function luminance(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function heatmap(heat, caption, diverging) {
  const { rows, cols, v } = heat;
  const finite = v.filter((x) => x !== null);
  const lo = Math.min(...finite, 0), hi = Math.max(...finite, 0);
  const bound = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const cell = Math.max(10, Math.min(44, Math.floor(360 / Math.max(cols, 1)), Math.floor(260 / Math.max(rows, 1))));
  const writeNumbers = rows * cols <= 36 && cell >= 30;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("width", cols * cell);
  svg.setAttribute("height", rows * cell);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", caption);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = v[r * cols + c];
      const fill = x === null ? "#bbbbbb" : diverging ? mix(DIVERGING, 0.5 + x / (2 * bound)) : mix(SEQUENTIAL, hi > lo ? (x - lo) / (hi - lo) : 0.5);
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", c * cell); rect.setAttribute("y", r * cell);
      rect.setAttribute("width", cell - 1); rect.setAttribute("height", cell - 1);
      rect.setAttribute("fill", fill);
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `[${r}, ${c}] = ${x === null ? "nan" : x}`;
      rect.append(title);
      svg.append(rect);
      if (writeNumbers && x !== null) {
        const text = document.createElementNS(SVG_NS, "text");
        text.setAttribute("x", c * cell + cell / 2); text.setAttribute("y", r * cell + cell / 2 + 4);
        text.setAttribute("text-anchor", "middle");
        text.setAttribute("font-size", "11");
        text.setAttribute("fill", luminance(fill) > 0.35 ? "#111111" : "#ffffff");
        text.textContent = Number(x.toPrecision(3)).toString();
        svg.append(text);
      }
    }
  }
  const [br, bc] = heat.block;
  const blocks = br > 1 || bc > 1 ? ` · drawn as ${rows}×${cols} blocks of ${br}×${bc} (means)` : "";
  return element("figure", { class: "heatmap" },
    element("figcaption", { text: `${caption} · shape ${heat.shape.join("×") || "scalar"} · ‖·‖ = ${heat.norm}${blocks}` }), svg);
}

// ---- the node inspector -----------------------------------------------------------------------------

export function renderInspector(container, data, nodeId, t, following, claim) {
  const node = data.nodes[nodeId];
  const [kind, title, op, shape] = node;
  const look = data.looks[nodeId][lookIndex(data.looks[nodeId], t)];
  const status = data.statuses[look[1]];
  const info = data.inspect[nodeId];
  const parts = [
    element("p", { class: "caption", text: `${title} · ${op} · shape ${shape} · ${status}${following ? " (the current node)" : ""}` }),
  ];
  // [node, status, symbol, message]: the student's claim about this node's gradient.
  if (claim) parts.push(element("p", { class: `claim ${claim[1]}`, text: `Your claim, ${claim[3]} ${claim[2]}` }));
  if (info.value) {
    parts.push(heatmap(info.value, "value", false));
  } else {
    parts.push(element("p", { class: "metric" }, element("span", { text: "value " }), element("strong", { text: look[3] ? look[3].replace(/^= /, "") : "not computed yet" })));
  }
  if (info.grads) {
    const shown = info.grads.filter(([when]) => when <= t);
    if (shown.length) parts.push(heatmap(shown[shown.length - 1][1], "gradient ḡ", true));
  } else if (look[4]) {
    parts.push(element("p", { class: "metric" }, element("span", { text: "gradient " }), element("strong", { text: look[4] })));
  }
  const received = info.arrivals.filter(([when]) => when <= t);
  if (received.length) {
    const table = element("table", { class: "contributions" },
      element("thead", {}, element("tr", {}, ...["step", "from", "contribution", "running sum"].map((h) => element("th", { text: h })))));
    const body = element("tbody");
    for (const [when, from, value, sum] of received) {
      body.append(element("tr", {}, element("td", { text: `t = ${when}` }), element("td", { text: data.nodes[from][1] }),
        element("td", { text: value }), element("td", { text: sum })));
    }
    table.append(body);
    parts.push(table);
  } else if (kind !== "constant" && t > data.tForwardEnd) {
    parts.push(element("p", { class: "caption", text: "No contribution has arrived yet." }));
  }
  container.replaceChildren(...parts);
}

// ---- the tape -------------------------------------------------------------------------------------------
// Every node's value, gradient and status at this step: built once, cells rewritten when they change.

export class Tape {
  constructor(container) {
    this.container = container;
    this.rows = null;
  }

  build(data) {
    this.data = data;
    const table = element("table", { class: "tape" },
      element("thead", {}, element("tr", {}, ...["id", "node", "op", "shape", "value", "gradient", "status"].map((h) => element("th", { text: h })))));
    const body = element("tbody");
    this.rows = data.nodes.map(([kind, title, op, shape], id) => {
      const cells = [id, title, op, shape, "", "", ""].map((text) => element("td", { text: String(text) }));
      const row = element("tr", {}, ...cells);
      body.append(row);
      return { cells, applied: -1 };
    });
    table.append(body);
    this.container.replaceChildren(table);
  }

  show(t) {
    if (!this.rows) return;
    const { data } = this;
    this.rows.forEach((row, id) => {
      const index = lookIndex(data.looks[id], t);
      if (index === row.applied) return;
      row.applied = index;
      const look = data.looks[id][index];
      row.cells[4].textContent = (look[3] ?? look[2] ?? "").replace(/^= /, "") || "—";
      row.cells[5].textContent = (look[4] ?? "").replace(/^ḡ /, "") || "—";
      row.cells[6].textContent = data.statuses[look[1]];
    });
  }
}
